/* bridge.c - run the toolkit's programs CGI-style: request body on
 * stdin, JSON on stdout, a time limit and an output-size limit */
#define _GNU_SOURCE 1           /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

extern char **environ;

/* In the child between fork and exec only async-signal-safe calls. */
static _Noreturn void
child(char *const argv[], int in, int out, int err)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	{
		static const char m[] = "churn-serve: cannot run the program\n";
		ssize_t w = write(2, m, sizeof m - 1);
		(void)w;
	}
	_exit(127);
}

static void
keep_tail(struct child_result *r, size_t *elen, const char *b, size_t n)
{
	size_t cap = sizeof r->err - 1;

	if (n >= cap) {
		memcpy(r->err, b + n - cap, cap);
		*elen = cap;
	} else {
		if (*elen + n > cap) {
			size_t drop = *elen + n - cap;
			memmove(r->err, r->err + drop, *elen - drop);
			*elen -= drop;
		}
		memcpy(r->err + *elen, b, n);
		*elen += n;
	}
	r->err[*elen] = '\0';
}

/* Set by bridge_cancel_all: every child running or started is killed. */
static atomic_int cancelled;

void
bridge_cancel_all(void)
{
	atomic_store(&cancelled, 1);
}

ssize_t
bridge_feed_buf(void *arg, char *buf, size_t n)
{
	struct bridge_buf *b = arg;

	if (n > b->len - b->off)
		n = b->len - b->off;
	memcpy(buf, b->p + b->off, n);
	b->off += n;
	return (ssize_t)n;
}

int
bridge_run(char *const argv[], bridge_feed feed, void *arg, double timeout,
    size_t limit, struct child_result *r, struct ch_err *e)
{
	int pin[2], pout[2], perr[2], status;
	size_t elen = 0, cap = 4096, ioff = 0, ilen = 0;
	double deadline = ch_seconds() + timeout;
	pid_t pid;
	char buf[65536], *ibuf;

	memset(r, 0, sizeof *r);
	if (atomic_load(&cancelled))
		return ch_errf(e, "shutting down");
	if (pipe2(pin, O_CLOEXEC) < 0)
		return ch_errf(e, "pipe: %s", strerror(errno));
	if (pipe2(pout, O_CLOEXEC) < 0) {
		close(pin[0]), close(pin[1]);
		return ch_errf(e, "pipe: %s", strerror(errno));
	}
	if (pipe2(perr, O_CLOEXEC) < 0) {
		close(pin[0]), close(pin[1]), close(pout[0]), close(pout[1]);
		return ch_errf(e, "pipe: %s", strerror(errno));
	}
	if ((pid = fork()) < 0) {
		close(pin[0]), close(pin[1]), close(pout[0]), close(pout[1]);
		close(perr[0]), close(perr[1]);
		return ch_errf(e, "fork: %s", strerror(errno));
	}
	if (pid == 0)
		child(argv, pin[0], pout[1], perr[1]);
	setpgid(pid, pid);      /* both sides, so kill(-pid) always works */
	close(pin[0]), close(pout[1]), close(perr[1]);
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	if (!feed) {
		close(pin[1]);
		pin[1] = -1;
	}
	/* stdin goes through one small buffer, refilled from feed as the
	 * child reads: the input is never held whole */
	ibuf = ch_malloc(sizeof buf);
	r->out = ch_malloc(cap);
	r->outlen = 0;
	while (pout[0] >= 0 || perr[0] >= 0) {
		struct pollfd p[3];
		int np = 0, left;
		double now = ch_seconds();

		if (atomic_load(&cancelled)) {
			r->cancelled = 1;
			break;
		}
		if (now >= deadline) {
			r->timed_out = 1;
			break;
		}
		/* wake up now and then to see a cancel */
		left = (int)((deadline - now) * 1000) + 1;
		if (left > 100)
			left = 100;
		if (pin[1] >= 0)
			p[np++] = (struct pollfd){ pin[1], POLLOUT, 0 };
		if (pout[0] >= 0)
			p[np++] = (struct pollfd){ pout[0], POLLIN, 0 };
		if (perr[0] >= 0)
			p[np++] = (struct pollfd){ perr[0], POLLIN, 0 };
		if (poll(p, np, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < np; i++) {
			ssize_t n;

			if (!p[i].revents)
				continue;
			if (p[i].fd == pin[1]) {
				if (ioff == ilen) {
					n = feed(arg, ibuf, sizeof buf);
					ioff = 0;
					ilen = n > 0 ? (size_t)n : 0;
				}
				n = ilen ? write(pin[1], ibuf + ioff, ilen - ioff) : 0;
				if (n > 0)
					ioff += (size_t)n;
				if ((n < 0 && errno != EAGAIN) || ilen == 0) {
					close(pin[1]);  /* EPIPE: it stopped reading */
					pin[1] = -1;
				}
				continue;
			}
			n = read(p[i].fd, buf, sizeof buf);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(p[i].fd);
				if (p[i].fd == pout[0])
					pout[0] = -1;
				else
					perr[0] = -1;
				continue;
			}
			if (p[i].fd == perr[0]) {
				keep_tail(r, &elen, buf, (size_t)n);
				continue;
			}
			if (r->outlen + (size_t)n > limit) {
				r->too_big = 1;
				goto out;
			}
			while (r->outlen + (size_t)n + 1 > cap)
				cap *= 2;
			r->out = ch_realloc(r->out, cap);
			memcpy(r->out + r->outlen, buf, (size_t)n);
			r->outlen += (size_t)n;
		}
	}
out:
	free(ibuf);
	if (r->timed_out || r->too_big || r->cancelled)
		kill(-pid, SIGKILL);
	if (pin[1] >= 0)
		close(pin[1]);
	if (pout[0] >= 0)
		close(pout[0]);
	if (perr[0] >= 0)
		close(perr[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->out[r->outlen] = '\0';
	if (WIFEXITED(status)) {
		r->exited = 1;
		r->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		r->code = WTERMSIG(status);
	return 0;
}

void
bridge_result_free(struct child_result *r)
{
	free(r->out);
	r->out = NULL;
}

pid_t
bridge_spawn(const char *cmd, const char *logpath, char *const env[],
    struct ch_err *e)
{
	int fd, devnull;
	pid_t pid;
	size_t n = 0, k = 0;
	char **envp;

	/* built before fork: the child may only make async-signal-safe calls */
	while (environ[n])
		n++;
	while (env && env[k])
		k++;
	envp = ch_calloc(n + k + 1, sizeof *envp);
	if (k)
		memcpy(envp, env, k * sizeof *envp);
	memcpy(envp + k, environ, n * sizeof *envp);

	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) < 0) {
		free(envp);
		return ch_errf(e, "%s: %s", logpath, strerror(errno));
	}
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		close(fd), free(envp);
		return ch_errf(e, "/dev/null: %s", strerror(errno));
	}
	if ((pid = fork()) < 0) {
		close(fd), close(devnull), free(envp);
		return ch_errf(e, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		sigset_t none;
		char *argv[] = { "sh", "-c", (char *)cmd, NULL };

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();       /* a signal to churn-serve's group spares it */
		if (dup2(devnull, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	close(fd), close(devnull);
	free(envp);
	return pid;
}
