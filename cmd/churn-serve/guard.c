/* guard.c - slow clients cannot take every connection: a limit per client
 * address, a deadline for each whole request that a trickle of bytes does
 * not reset, and room for a new client when the server is full.
 *
 * libmicrohttpd's own limits cannot do it: its connection timeout is an
 * idle timeout that each byte resets, and its per-address and total
 * limits refuse without telling anyone.  So every connection is tracked
 * here from open to close.  A connection "waits" from its opening, and
 * again from the end of each answer, until its next request has arrived
 * whole; the waiting ones are kept on a list, oldest first.  A thread
 * shuts down (shutdown(2); libmicrohttpd then closes it as the client
 * had) those waiting longer than --request-timeout, and a new connection
 * at the total limit first shuts down the oldest waiting one.  The one
 * mutex also keeps a descriptor from being shut down after libmicrohttpd
 * has closed it (it tells us before it closes).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "guard.h"

/* descriptors kept for everything but client connections: the listening
 * socket, epoll, model and window files, children's pipes, S3 and
 * PostgreSQL connections */
#define FD_RESERVE 128
#define NBUCKET 1024

struct addr {                   /* connections open from one address */
	struct addr *next;
	unsigned char key[16];
	size_t len;
	unsigned n;
};

struct conn {
	struct conn *prev, *next;   /* the waiting list */
	struct addr *addr;          /* NULL: not an IP address */
	MHD_socket fd;
	double since;               /* waiting since */
	int waiting;                /* on the list */
	int cut;                    /* shut down here already */
};

static struct {
	pthread_mutex_t mu;
	struct conn *head, *tail;   /* waiting, oldest first */
	struct addr *bucket[NBUCKET];
	unsigned open;
	unsigned pending;           /* let in, not yet seen open: http.c's
	                             * accepting thread lets connections in
	                             * ahead of the workers that open them */
	unsigned limit, spare;
	pthread_t reaper;
	int running;
	atomic_int stop;
} G = { .mu = PTHREAD_MUTEX_INITIALIZER };

unsigned
guard_open(void)
{
	unsigned n;

	pthread_mutex_lock(&G.mu);
	n = G.open + G.pending;
	pthread_mutex_unlock(&G.mu);
	return n;
}

unsigned
guard_init(void)
{
	struct rlimit rl;
	unsigned threads = cfg.threads ? cfg.threads : 1;
	unsigned long long mhd;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;     /* unknown */
	else if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* the limit in force is G.limit: cfg is never written after
	 * start-up, and here it is only read */
	G.limit = cfg.conn_limit;
	G.spare = G.limit / 8 ? G.limit / 8 : 1;
	/* the limit, the spare ones closing to make room, a few accepted
	 * by other threads at the same moment, and the reserve */
	room = rl.rlim_cur > FD_RESERVE + 2 * threads ?
	    rl.rlim_cur - FD_RESERVE - 2 * threads : 9;
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)G.limit + G.spare > room) {
		G.limit = room * 8 / 9 ? (unsigned)(room * 8 / 9) : 1;
		G.spare = G.limit / 8 ? G.limit / 8 : 1;
		slog("warn", "--max-connections lowered to fit the limit of "
		    "open files", json_pack("{s:i,s:i,s:I}", "asked",
		    (int)cfg.conn_limit, "max_connections", (int)G.limit,
		    "open_files", (json_int_t)rl.rlim_cur));
	}
	/* libmicrohttpd shares its limit among its threads: give each all
	 * of it, so that it never refuses before the guard does */
	mhd = (unsigned long long)(G.limit + G.spare + 2 * threads) * threads;
	return mhd > 1u << 30 ? 1u << 30 : (unsigned)mhd;
}

/* --- addresses ------------------------------------------------------ */

/* The address's bytes (an IPv4-mapped IPv6 address as IPv4); 0 for a
 * socket that has none. */
static size_t
addr_key(const struct sockaddr *sa, unsigned char key[16])
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(key, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(key, a->s6_addr, 16);
		return 16;
	}
	return 0;
}

static struct addr **
addr_slot(const unsigned char *key, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;
	struct addr **p;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	for (p = &G.bucket[h % NBUCKET]; *p; p = &(*p)->next)
		if ((*p)->len == len && !memcmp((*p)->key, key, len))
			break;
	return p;
}

/* --- the waiting list (G.mu held) ---------------------------------- */

static void
unlink_waiting(struct conn *k)
{
	if (!k->waiting)
		return;
	if (k->prev)
		k->prev->next = k->next;
	else
		G.head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		G.tail = k->prev;
	k->prev = k->next = NULL;
	k->waiting = 0;
}

static void
link_waiting(struct conn *k)
{
	k->since = ch_seconds();
	k->prev = G.tail;
	k->next = NULL;
	if (G.tail)
		G.tail->next = k;
	else
		G.head = k;
	G.tail = k;
	k->waiting = 1;
}

/* Shuts k down: libmicrohttpd sees the client gone, ends the request and
 * closes the connection. */
static void
cut(struct conn *k, enum refusal why)
{
	unlink_waiting(k);
	k->cut = 1;
	shutdown(k->fd, SHUT_RDWR);
	metrics_refused(why);
}

/* One address less (G.mu held); its entry goes with its last. */
static void
addr_drop(struct addr *a)
{
	if (a && --a->n == 0) {
		struct addr **p = addr_slot(a->key, a->len);
		*p = a->next;
		free(a);
	}
}

/* --- libmicrohttpd callbacks ------------------------------------------ */

/* the last guard_accept of this thread let its connection in */
static _Thread_local int granted;

/*
 * A connection let in counts here at once, in the total (pending until
 * libmicrohttpd opens it) and for its address: a burst accepted faster
 * than the workers open the connections cannot pass the limits.
 */
enum MHD_Result
guard_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	unsigned char key[16];
	size_t n = addr_key(sa, key);
	struct addr *a, **p = NULL;
	enum MHD_Result ok = MHD_YES;
	unsigned open;

	(void)cls, (void)len;
	pthread_mutex_lock(&G.mu);
	open = G.open + G.pending;
	a = n ? *(p = addr_slot(key, n)) : NULL;
	if (cfg.per_ip_limit && a && a->n >= cfg.per_ip_limit) {
		metrics_refused(REF_PER_IP);
		ok = MHD_NO;
	} else if (open >= G.limit) {
		/* full: room for the newcomer by closing the connection that
		 * has waited longest for its request (those already closed
		 * here still count until libmicrohttpd has closed them) */
		if (open < G.limit + G.spare && G.head) {
			cut(G.head, REF_EVICTED);
		} else {
			metrics_refused(REF_LIMIT);
			ok = MHD_NO;
		}
	}
	if (ok == MHD_YES) {
		G.pending++;
		if (p && !a) {
			a = *p = ch_calloc(1, sizeof **p);
			memcpy(a->key, key, n);
			a->len = n;
		}
		if (a)
			a->n++;
	}
	granted = ok == MHD_YES;
	pthread_mutex_unlock(&G.mu);
	return ok;
}

int
guard_granted(void)
{
	int g = granted;

	granted = 0;
	return g;
}

void
guard_unaccept(const struct sockaddr *sa)
{
	unsigned char key[16];
	size_t n = addr_key(sa, key);

	pthread_mutex_lock(&G.mu);
	if (G.pending)
		G.pending--;
	if (n)
		addr_drop(*addr_slot(key, n));
	pthread_mutex_unlock(&G.mu);
}

void
guard_notify(void *cls, struct MHD_Connection *c, void **sock_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *fd, *ad;
	struct conn *k;
	unsigned char key[16];
	size_t n;

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		k = ch_calloc(1, sizeof *k);
		k->fd = fd ? fd->connect_fd : MHD_INVALID_SOCKET;
		n = addr_key(ad ? ad->client_addr : NULL, key);
		pthread_mutex_lock(&G.mu);
		/* counted when let in (guard_accept), its address too; one
		 * that came another way counts now */
		if (n) {
			struct addr **p = addr_slot(key, n);
			if (!*p) {
				*p = ch_calloc(1, sizeof **p);
				memcpy((*p)->key, key, n);
				(*p)->len = n;
			}
			k->addr = *p;
			if (!G.pending)
				k->addr->n++;
		}
		if (G.pending)
			G.pending--;
		G.open++;
		if (k->fd != MHD_INVALID_SOCKET)
			link_waiting(k);
		pthread_mutex_unlock(&G.mu);
		*sock_ctx = k;
		return;
	}
	if (!(k = *sock_ctx))
		return;
	/* closed: forgotten before libmicrohttpd closes the descriptor */
	pthread_mutex_lock(&G.mu);
	unlink_waiting(k);
	G.open--;
	addr_drop(k->addr);
	pthread_mutex_unlock(&G.mu);
	free(k);
	*sock_ctx = NULL;
}

static struct conn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

void
guard_busy(struct MHD_Connection *c)
{
	struct conn *k = conn_of(c);

	if (!k)
		return;
	pthread_mutex_lock(&G.mu);
	unlink_waiting(k);
	pthread_mutex_unlock(&G.mu);
}

void
guard_idle(struct MHD_Connection *c)
{
	struct conn *k = conn_of(c);

	if (!k)
		return;
	pthread_mutex_lock(&G.mu);
	if (!k->cut && !k->waiting && k->fd != MHD_INVALID_SOCKET)
		link_waiting(k);
	pthread_mutex_unlock(&G.mu);
}

/* --- the deadline ------------------------------------------------------ */

/* One log line at most every 10 s: what was refused since the last. */
static void
report(double now, double *last, long seen[REF_N])
{
	long d[REF_N], any = 0;
	int i;

	if (now - *last < 10)
		return;
	for (i = 0; i < REF_N; i++) {
		long n = metrics_refused_count(i);
		d[i] = n - seen[i];
		seen[i] = n;
		any += d[i];
	}
	*last = now;
	if (any)
		slog("warn", "connections refused", json_pack(
		    "{s:I,s:I,s:I,s:I,s:i}", "per_ip", (json_int_t)d[REF_PER_IP],
		    "limit", (json_int_t)d[REF_LIMIT], "deadline",
		    (json_int_t)d[REF_DEADLINE], "evicted",
		    (json_int_t)d[REF_EVICTED], "open", (int)guard_open()));
}

static void *
reaper(void *arg)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	long seen[REF_N] = { 0 };
	double last = ch_seconds();

	(void)arg;
	while (!atomic_load(&G.stop)) {
		double now;

		nanosleep(&tick, NULL);
		now = ch_seconds();
		pthread_mutex_lock(&G.mu);
		/* the list is oldest first: stop at the first in time */
		while (G.head && now - G.head->since > cfg.request_timeout)
			cut(G.head, REF_DEADLINE);
		pthread_mutex_unlock(&G.mu);
		report(now, &last, seen);
	}
	report(ch_seconds() + 10, &last, seen);
	return NULL;
}

int
guard_start(struct ch_err *e)
{
	int rc;

	atomic_store(&G.stop, 0);
	if ((rc = pthread_create(&G.reaper, NULL, reaper, NULL)) != 0)
		return ch_errf(e, "cannot start the request deadline thread: %s",
		    strerror(rc));
	G.running = 1;
	return 0;
}

void
guard_stop(void)
{
	if (!G.running)
		return;
	atomic_store(&G.stop, 1);
	pthread_join(G.reaper, NULL);
	G.running = 0;
}
