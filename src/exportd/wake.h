/* wake.h - one claim per node for each new job.
 *
 * Every idle worker LISTENs on export_jobs and PostgreSQL wakes each of
 * them for every new job; if each tried a claim, a job would cost the
 * primary a transaction per idle worker of every node (docs/SCALING.md).
 * The workers of a node share a flag instead: a worker woken by a NOTIFY
 * claims only if it sets the flag; the others go back to sleep, because
 * the holder received the same notification and looks at its connection
 * again when its round ends.  A worker that claims a job and may leave more
 * behind (a burst) hands the flag on and pokes the node's pipe before it
 * starts exporting: the idle peer that takes the poke claims whatever else
 * is due, and until it does, workers woken late by the same NOTIFY wait
 * on.  And a worker that starts a claim
 * records the notifications it has received as covered: a worker woken
 * later by notifications that are all covered has nothing to look for.  Timeout wakes claim
 * regardless, so a lost wake-up costs at most exportd.poll_interval.
 */
#ifndef EXPORTD_WAKE_H
#define EXPORTD_WAKE_H

#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/status.h"

#define WAKE_COVERED 64

/* In the supervisor, before the first worker is forked: the shared flag
 * and the pipe, inherited by the children. */
enum ex_status wake_init(struct buf *err);

/* The pipe's read end, for a worker's poll(); -1 before wake_init(). */
int wake_fd(void);

/* 1 when this process now holds the node's flag (or already did, or the
 * flag was handed on with a poke this process took); a holder that died is
 * replaced. */
int wake_take(void);

/* After wake_take() failed and this process still has a reason to claim
 * (a notification no claim covers yet, a poke): counted as a pass, so
 * that the holder pokes before it starts a job; then the flag is tried
 * once more (1: taken). */
int wake_pass(void);

/* Give the flag back if this process holds it. */
void wake_give(void);

/* About to export a job just claimed.  more: other jobs may be due (a
 * burst was heard, or this is a poke's or a timeout's round): hand the
 * flag on and poke one idle worker of the node to claim next.  Otherwise
 * give the flag back, and poke only if a wake-up passed meanwhile.  At
 * most one poke is pending. */
void wake_hand_on(int more);

/* After the pipe polled readable: 1 when this process took the poke. */
int wake_taken(void);

/* A new job's NOTIFY payload as a key for the two below. */
uint64_t wake_key(const char *payload);

/* A claim starts after the notifications with these keys arrived. */
void wake_cover(const uint64_t *keys, int n);

/* 1 when a worker of the node started a claim after receiving the
 * notification with this key (of the last WAKE_COVERED). */
int wake_covered(uint64_t key);

/* In the supervisor, for a reaped child: the flag it held is free. */
void wake_forget(pid_t pid);

#endif
