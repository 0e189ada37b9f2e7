/* s3.h - S3 storage: multipart upload, one part per export part.
 *
 * Every request is signed with AWS Signature Version 4 (sigv4.h) and sent
 * with libcurl, with the exact canonical query that was signed.  A part is
 * durable once UploadPart answered; the checkpoint keeps the upload id and
 * every part's number, ETag and size, so a resumed export goes on with the
 * next part number.  Retries within a request: 5xx (SlowDown included),
 * timeouts and connection resets, with capped backoff; 403 and other 4xx
 * fail the export with S3's own code and message.  A complete object is
 * handed over as a presigned GET, valid s3.presign_ttl, that makes S3 answer
 * with the Content-Disposition and Content-Type of the caller's offer.
 */
#ifndef EXPORTD_S3_H
#define EXPORTD_S3_H

#include "storage/backend.h"

extern const struct storage_ops s3_ops;

#endif
