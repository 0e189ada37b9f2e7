/* status.h - the one status type every fallible function returns. */
#ifndef EXPORTD_STATUS_H
#define EXPORTD_STATUS_H

#define EX_MUST_CHECK __attribute__((warn_unused_result))

enum ex_status {
	EX_OK = 0,
	EX_ENOMEM,    /* allocation failed */
	EX_ETOOBIG,   /* a capped buffer or limit would be exceeded */
	EX_EINVAL,    /* bad input (config, request, argument) */
	EX_EIO,	      /* file or socket I/O failed */
	EX_EDB,	      /* PostgreSQL query or connection failed */
	EX_ENOTFOUND, /* no such row / file */
	EX_ELEASE,    /* the job's lease (fencing token) is no longer ours */
	EX_ECANCEL,   /* the job was cancelled */
	EX_ESTOP,     /* shutdown requested */
	EX_EPERM,     /* permanent failure (relation or column gone, denied) */
	EX_ELIMIT,    /* a configured limit (rows, bytes per export) was passed */
	EX_EREFUSED,  /* the storage service refused (403, 4xx): permanent */
	EX_EGAVEUP,   /* a job's workers kept dying: max_attempts reached */
};

/* Static text for a status; never NULL. */
const char *status_strerror(enum ex_status st);

#endif
