/* guard.h - churn-serve's connection guard (private to http.c and guard.c) */
#ifndef CHURN_SERVE_GUARD_H
#define CHURN_SERVE_GUARD_H

#include <sys/socket.h>

#include <microhttpd.h>

#include "serve.h"

/*
 * Raises the soft limit of open files to the hard one and takes a lower
 * limit than cfg.conn_limit (with a warning) when the descriptors cannot
 * hold it.
 * Returns the connection limit to give libmicrohttpd: above the guard's
 * own, so that the guard, not libmicrohttpd, decides and counts every
 * refusal.
 */
unsigned guard_init(void);

/* Starts and stops the thread that closes requests past their deadline. */
int guard_start(struct ch_err *e);
void guard_stop(void);

/* MHD_OPTION_ACCEPT_POLICY_CALLBACK: refuses a connection over its
 * address's limit or over the total, first closing the oldest connection
 * without a whole request when that makes room. */
enum MHD_Result guard_accept(void *cls, const struct sockaddr *sa,
    socklen_t len);
/* Whether this thread's last guard_accept let its connection in (and
 * forgets it); guard_unaccept takes back one let in that libmicrohttpd
 * then failed to add. */
int guard_granted(void);
void guard_unaccept(const struct sockaddr *sa);
/* MHD_OPTION_NOTIFY_CONNECTION: tracks each connection from open to
 * close. */
void guard_notify(void *cls, struct MHD_Connection *c, void **sock_ctx,
    enum MHD_ConnectionNotificationCode toe);
/* The whole request of c arrived (the handler's last call): no deadline
 * while it is answered. */
void guard_busy(struct MHD_Connection *c);
/* The request of c ended: the deadline runs again for the next one. */
void guard_idle(struct MHD_Connection *c);

#endif
