#include "common/status.h"

const char *status_strerror(enum ex_status st)
{
	switch (st) {
	case EX_OK:
		return "success";
	case EX_ENOMEM:
		return "out of memory";
	case EX_ETOOBIG:
		return "size limit exceeded";
	case EX_EINVAL:
		return "invalid input";
	case EX_EIO:
		return "I/O error";
	case EX_EDB:
		return "database error";
	case EX_ENOTFOUND:
		return "not found";
	case EX_ELEASE:
		return "lease lost";
	case EX_ECANCEL:
		return "cancelled";
	case EX_ESTOP:
		return "stopping";
	case EX_EPERM:
		return "permanent failure";
	case EX_ELIMIT:
		return "limit exceeded";
	case EX_EREFUSED:
		return "refused by the storage service";
	case EX_EGAVEUP:
		return "too many attempts";
	}
	return "unknown status";
}
