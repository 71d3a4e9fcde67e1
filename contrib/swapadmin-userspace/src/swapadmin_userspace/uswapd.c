/*
 * uswapd: the user-space swap kind's daemon (issue 15, Part 2; design in
 * docs/research/issue15-part2-userspace-kind.md, sections 1.2, 1.3, 3.1, 3.2).
 *
 * The kernel cannot swap to a file on FUSE, but it can swap to a loop device, and a loop
 * device can sit over a file on FUSE. This daemon is that FUSE filesystem: it mounts one
 * directory holding
 *
 *     area    (ino 2, regular, 0600 root)  the store, byte for byte, BYTES long
 *     stats   (ino 3, regular, 0400 root)  counters, as text, fresh on every read
 *
 * and serves it by speaking the raw /dev/fuse protocol itself (no libfuse: libfuse
 * allocates per request, which is exactly what must not happen here, see below).
 *
 * Usage:
 *     uswapd --mountpoint DIR --store-fd N --size BYTES --ready-fd M [--require-io-flusher]
 *            [--request-timeout SECONDS]
 *
 * Exit status: 0 after an orderly end (the mount was taken down: umount2(DIR, 0) by the
 * parent, or FUSE_DESTROY); 1 when serving failed after the ready line; 2 bad input
 * (arguments, the store descriptor); 3 setup failure (mount point, mlockall, /dev/fuse,
 * mount, INIT); 4 PR_SET_IO_FLUSHER refused with --require-io-flusher. On every failure
 * before the ready line the ready descriptor is closed without a line (the parent reads
 * EOF), stderr says what failed and why, and nothing is left mounted.
 *
 * Once the kernel's FUSE_INIT has been answered, the daemon writes
 * "ready io_flusher=<0|1> pid=<pid> request_timeout=<seconds>\n" on the ready descriptor
 * and closes it; request_timeout is what the INIT reply asked of the kernel (0: nothing,
 * because none was wanted or the kernel, before FUSE 7.43, offers no such thing).
 *
 * The request timeout is the fence against this daemon hanging (blocked in the kernel on
 * its store, frozen, starved): a FUSE request it leaves unanswered for longer than that
 * makes the kernel abort the whole connection (it looks every 15 s), so every waiter,
 * the loop device's worker and swapadmin's jobs among them, gets an error instead of
 * waiting for ever. For an active area that is a loss: a page the kernel swapped here can
 * no longer be read back, and the process that owned it is killed (SIGBUS). The parent
 * chooses the bound and says so; 0 asks for none (the sysctl fs.fuse.default_request_timeout
 * and max_request_timeout still apply, as the kernel decides).
 *
 * Why it is built the way it is. The pages of a swap area pass through this process: when
 * the kernel reclaims memory it writes a page to the loop device, the loop worker turns that
 * into a FUSE WRITE, and this daemon must finish it for the memory to be freed. Anything the
 * daemon itself needs from the memory allocator while doing so can end in a deadlock: its
 * allocation enters reclaim, reclaim writes a page to the very area this daemon serves, and
 * that write waits for the daemon. Hence:
 *
 *  - mlockall(MCL_CURRENT | MCL_FUTURE) before serving: none of the daemon's own pages can
 *    be swapped out (possibly to its own area, from where only it could bring them back).
 *  - No allocation after initialisation: the one request buffer and the reply buffers are
 *    static (in the locked image), no malloc and no stdio on the I/O path (stats text is
 *    formatted by hand, rare errors go to stderr with write(2)). A user-space allocation
 *    would fault in fresh pages; the locked buffers never need new memory.
 *  - PR_SET_IO_FLUSHER: the kernel's allocations made on this task's behalf (the bio of a
 *    pwrite to the store, say) become NOIO, so reclaim inside them never starts swap-out and
 *    never waits on swap writeback. It needs CAP_SYS_RESOURCE; without it the daemon still
 *    runs (io_flusher=0 is reported to the parent, who decides), unless asked to insist.
 *
 * Why the store is a descriptor and not a path: the parent proved on an open descriptor
 * that the file is its own (the walk from the swap root, the mark, the owner). A path
 * opened again here could name another file by then (a rename, a symlink swapped in), and
 * this daemon would write swap pages into it. The descriptor cannot change what it refers
 * to, so the daemon never opens the store by name; it does not even know one.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fuse.h>

/* Constants newer than the headers this is built with (linux-libc-dev 6.1, FUSE 7.38), or
 * missing from some libc, defined locally. */
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef FOPEN_PARALLEL_DIRECT_WRITES
#define FOPEN_PARALLEL_DIRECT_WRITES (1 << 6)
#endif
#ifndef FUSE_MIN_READ_BUFFER
#define FUSE_MIN_READ_BUFFER 8192
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x00000008
#endif
#define USWAP_FUSE_STATX 52 /* 7.39; answered ENOSYS, which the kernel remembers */

enum {
	EXIT_SERVE_FAILED = 1,
	EXIT_BAD_INPUT = 2,
	EXIT_SETUP = 3,
	EXIT_IO_FLUSHER = 4,
};

#define PAGE 4096u
#define MAX_WRITE (1u << 20)	  /* 1 MiB: max_pages 256 of 4 KiB */
#define MAX_READ (1u << 20)	  /* the mount's max_read */
#define MAX_PAGES 256u
#define MAX_BACKGROUND 64u
#define CONGESTION_THRESHOLD 48u
#define PROTO_MINOR 38u		  /* the headers' FUSE_KERNEL_MINOR_VERSION */
#define MIN_KERNEL_MINOR 28u	  /* FUSE_MAX_PAGES and init_out.max_pages */
#define ATTR_VALID_SECONDS 86400u /* nothing of ours ever changes its attributes */
#define MAX_REQUEST_TIMEOUT 65535u /* init_out.request_timeout is a u16 of seconds */
/* FUSE 7.43's FUSE_REQUEST_TIMEOUT is bit 42 of the 64-bit flags: bit 10 of flags2. The
 * system's headers may be older than the kernel (Debian's say 7.38), so it is named here. */
#define FLAGS2_REQUEST_TIMEOUT (1u << 10)

/* fuse_init_out as FUSE 7.43 lays it out: the 7.38 header's unused[0] became
 * max_stack_depth and the low half of unused[1] request_timeout. Same size, so the
 * kernel reads the reply the same way whatever it speaks. */
struct init_out_743 {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint16_t request_timeout;
	uint16_t unused[11];
};
_Static_assert(sizeof(struct init_out_743) == sizeof(struct fuse_init_out),
	       "FUSE 7.43's init_out is the size of the headers' one");

#define INO_ROOT FUSE_ROOT_ID
#define INO_AREA 2u
#define INO_STATS 3u
#define STATS_SIZE 4096u

#define IO_FLUSHER_REFUSED                                                                 \
	"PR_SET_IO_FLUSHER refused (needs CAP_SYS_RESOURCE): without it this daemon's own " \
	"allocations can recurse into the swap area it serves and deadlock"

/* ---- the buffers, all static: allocated (and locked by mlockall) before serving ---- */

/*
 * The one request buffer. The kernel refuses a read(2) of /dev/fuse shorter than
 * max(FUSE_MIN_READ_BUFFER, in_header + write_in + max_write), so it holds 1 MiB of data
 * plus 4 KiB for the headers. It starts 80 bytes (in_header + write_in) before a page
 * boundary, so that the data of a WRITE lands page-aligned: a store descriptor opened with
 * O_DIRECT can take it as it is.
 */
#define REQ_HEAD (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))
#define REQ_SIZE (MAX_WRITE + PAGE)
_Static_assert(REQ_SIZE >= FUSE_MIN_READ_BUFFER, "request buffer below FUSE_MIN_READ_BUFFER");
_Static_assert(REQ_HEAD <= PAGE, "headers larger than the head room");
static unsigned char req_space[REQ_SIZE + PAGE] __attribute__((aligned(PAGE)));
#define REQ (req_space + PAGE - REQ_HEAD)

/* READ data (page-aligned, replied with writev after its header), directory entries and
 * the stats text. */
static unsigned char read_buf[MAX_READ] __attribute__((aligned(PAGE)));
static unsigned char dir_buf[PAGE] __attribute__((aligned(8)));
static char stats_buf[STATS_SIZE];
static size_t stats_len;

/* ---- state ---- */

static const char *mountpoint;
static uint64_t area_size;
static int store_fd = -1;
static int ready_fd = -1;
static int fuse_fd = -1;
static int mounted;
static int io_flusher;
static uint64_t request_timeout; /* asked for by the parent, in seconds */
static unsigned timeout_asked;	 /* what the INIT reply asked of the kernel */
static struct timespec started;

static struct {
	uint64_t reads, writes, bytes_read, bytes_written, discards_refused, errors;
} counters;
static unsigned said; /* error lines written on the I/O path, capped */

/* ---- messages ---- */

/* Setup only (before serving): formats with vsnprintf into a stack buffer, written with
 * write(2). */
static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere else to say it */
	}
}

static void take_down(void);

static void fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(int status, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	msg("uswapd: %s", line);
	take_down();
	_exit(status);
}

/* The I/O path's own formatting: no stdio, no allocation. */
static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_u64(char *buf, size_t at, size_t cap, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && at < cap)
		buf[at++] = digits[--n];
	return at;
}

/* A rare error on the I/O path: "uswapd: <what>: <errno text>", at most 32 lines in the
 * daemon's life (the errors counter in stats keeps counting). */
static void say_io(const char *what, int err)
{
	char line[256];
	const char *text = strerrordesc_np(err);
	size_t n = 0;

	if (said >= 32)
		return;
	said++;
	n = put_str(line, n, sizeof line - 1, "uswapd: ");
	n = put_str(line, n, sizeof line - 1, what);
	n = put_str(line, n, sizeof line - 1, ": ");
	n = text ? put_str(line, n, sizeof line - 1, text) : put_u64(line, n, sizeof line - 1, (uint64_t)err);
	if (said == 32)
		n = put_str(line, n, sizeof line - 1, " (no more such lines)");
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to say it */
	}
}

/* ---- setup ---- */

static void usage(const char *why) __attribute__((noreturn));
static void usage(const char *why)
{
	msg("uswapd: %s\n"
	    "usage: uswapd --mountpoint DIR --store-fd N --size BYTES --ready-fd M "
	    "[--require-io-flusher] [--request-timeout SECONDS]",
	    why);
	_exit(EXIT_BAD_INPUT);
}

/* A decimal without sign, spaces or overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_fd(const char *s)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > INT_MAX)
		return -1;
	return (int)v;
}

/* Undo the mount if this process made it (setup failures): the orderly umount first, the
 * lazy one if something already holds it. */
static void take_down(void)
{
	if (!mounted)
		return;
	if (umount2(mountpoint, UMOUNT_NOFOLLOW) != 0) {
		int e = errno;

		if (umount2(mountpoint, UMOUNT_NOFOLLOW | MNT_DETACH) != 0)
			msg("uswapd: cannot unmount %s: %s (then, lazily: %s)", mountpoint, strerror(e),
			    strerror(errno));
	}
	mounted = 0;
}

/* The mount point: a directory (not a symlink), not already a mount point, and empty.
 * Returns a descriptor of it, which the mount then names through /proc/self/fd, so that
 * the directory checked is the directory mounted on. */
static int check_mountpoint(void)
{
	struct statx sx;
	char ents[4096] __attribute__((aligned(8)));
	int fd;
	long n;

	fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fail(EXIT_SETUP, "mount point %s: %s (it must be an existing empty directory, not a symlink)",
		     mountpoint, strerror(errno));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &sx) != 0)
		fail(EXIT_SETUP, "mount point %s: statx: %s", mountpoint, strerror(errno));
	if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		fail(EXIT_SETUP, "mount point %s is already a mount point: refusing to mount over it", mountpoint);
	while ((n = syscall(SYS_getdents64, fd, ents, sizeof ents)) > 0) {
		for (long at = 0; at < n;) {
			struct dirent64 *d = (struct dirent64 *)(ents + at);

			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				fail(EXIT_SETUP, "mount point %s is not empty (it holds %s): refusing to mount over it",
				     mountpoint, d->d_name);
			at += d->d_reclen;
		}
	}
	if (n < 0)
		fail(EXIT_SETUP, "mount point %s: reading it: %s", mountpoint, strerror(errno));
	return fd;
}

static void check_store(void)
{
	struct stat st;
	int flags;

	if (fstat(store_fd, &st) != 0)
		fail(EXIT_BAD_INPUT, "--store-fd %d: not an open descriptor: %s", store_fd, strerror(errno));
	if (!S_ISREG(st.st_mode))
		fail(EXIT_BAD_INPUT, "--store-fd %d: the store is not a regular file (mode %o)", store_fd,
		     (unsigned)st.st_mode);
	flags = fcntl(store_fd, F_GETFL);
	if (flags < 0 || (flags & O_ACCMODE) != O_RDWR)
		fail(EXIT_BAD_INPUT, "--store-fd %d: the store descriptor is not open for reading and writing",
		     store_fd);
	if ((uint64_t)st.st_size < area_size)
		fail(EXIT_BAD_INPUT, "--store-fd %d: the store is %lld bytes, smaller than --size %llu",
		     store_fd, (long long)st.st_size, (unsigned long long)area_size);
}

/* ---- replies ---- */

/* One reply: header and payload in one writev. ENOENT means the request was interrupted
 * or the connection aborted it meanwhile: nothing to do. ENODEV: the connection is gone,
 * and the next read says so. */
static void reply(uint64_t unique, int err, const void *data, size_t len)
{
	struct fuse_out_header out = {
		.len = (uint32_t)(sizeof out + (err ? 0 : len)),
		.error = -err,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &out, .iov_len = sizeof out },
		{ .iov_base = (void *)data, .iov_len = len },
	};

	if (writev(fuse_fd, iov, (!err && len) ? 2 : 1) < 0 && errno != ENOENT && errno != ENODEV)
		say_io("writing a reply to /dev/fuse", errno);
}

static void reply_err(uint64_t unique, int err)
{
	reply(unique, err, NULL, 0);
}

/* A request that does not add up (its len, its argument sizes): EIO, counted. */
static void malformed(uint64_t unique)
{
	counters.errors++;
	reply_err(unique, EIO);
}

/* ---- the three inodes ---- */

static int known(uint64_t ino)
{
	return ino == INO_ROOT || ino == INO_AREA || ino == INO_STATS;
}

static uint32_t mode_of(uint64_t ino)
{
	return ino == INO_ROOT ? (S_IFDIR | 0755) : ino == INO_AREA ? (S_IFREG | 0600) : (S_IFREG | 0400);
}

static void fill_attr(uint64_t ino, struct fuse_attr *a)
{
	memset(a, 0, sizeof *a);
	a->ino = ino;
	a->mode = mode_of(ino);
	a->nlink = ino == INO_ROOT ? 2 : 1;
	a->uid = 0;
	a->gid = 0;
	a->blksize = PAGE;
	a->atime = a->mtime = a->ctime = (uint64_t)started.tv_sec;
	a->atimensec = a->mtimensec = a->ctimensec = (uint32_t)started.tv_nsec;
	if (ino == INO_AREA) {
		a->size = area_size;
		a->blocks = area_size / 512;
	} else if (ino == INO_STATS) {
		a->size = STATS_SIZE; /* an upper bound; a read ends at the text's end */
	}
}

/* Permission as the mode bits say, for owner root:root. The mount has allow_other and no
 * default_permissions, so the kernel leaves this to the daemon: only root may open area
 * and stats. */
static int permitted(uint64_t ino, uint32_t uid, uint32_t gid, uint32_t want /* R_OK|W_OK|X_OK */)
{
	uint32_t mode = mode_of(ino);
	uint32_t bits;

	if (uid == 0) {
		if ((want & X_OK) && !(mode & 0111))
			return 0;
		return 1;
	}
	bits = gid == 0 ? (mode >> 3) & 7 : mode & 7;
	return (bits & want) == want;
}

static void format_stats(void)
{
	char *b = stats_buf;
	size_t n = 0, cap = sizeof stats_buf;

	n = put_str(b, n, cap, "reads ");
	n = put_u64(b, n, cap, counters.reads);
	n = put_str(b, n, cap, "\nwrites ");
	n = put_u64(b, n, cap, counters.writes);
	n = put_str(b, n, cap, "\nbytes_read ");
	n = put_u64(b, n, cap, counters.bytes_read);
	n = put_str(b, n, cap, "\nbytes_written ");
	n = put_u64(b, n, cap, counters.bytes_written);
	n = put_str(b, n, cap, "\ndiscards_refused ");
	n = put_u64(b, n, cap, counters.discards_refused);
	n = put_str(b, n, cap, "\nerrors ");
	n = put_u64(b, n, cap, counters.errors);
	n = put_str(b, n, cap, "\nio_flusher ");
	n = put_u64(b, n, cap, (uint64_t)io_flusher);
	n = put_str(b, n, cap, "\nrequest_timeout ");
	n = put_u64(b, n, cap, (uint64_t)timeout_asked);
	n = put_str(b, n, cap, "\npid ");
	n = put_u64(b, n, cap, (uint64_t)getpid());
	n = put_str(b, n, cap, "\n");
	stats_len = n;
}

/* ---- store I/O: loops over short transfers and EINTR ---- */

static int store_read(unsigned char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(store_fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO; /* the store is shorter than it was: never invent zeroes */
		done += (size_t)n;
	}
	return 0;
}

static int store_write(const unsigned char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(store_fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO;
		done += (size_t)n;
	}
	return 0;
}

/* ---- the operations ---- */

static void do_lookup(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	struct fuse_entry_out e;
	const char *name = (const char *)arg;
	uint64_t ino;

	if (len == 0 || arg[len - 1] != '\0' || strlen(name) != len - 1)
		return malformed(h->unique);
	if (h->nodeid != INO_ROOT)
		return reply_err(h->unique, known(h->nodeid) ? ENOTDIR : ENOENT);
	if (!strcmp(name, "area"))
		ino = INO_AREA;
	else if (!strcmp(name, "stats"))
		ino = INO_STATS;
	else
		return reply_err(h->unique, ENOENT);
	memset(&e, 0, sizeof e);
	e.nodeid = ino;
	e.generation = 1;
	e.entry_valid = e.attr_valid = ATTR_VALID_SECONDS;
	fill_attr(ino, &e.attr);
	reply(h->unique, 0, &e, sizeof e);
}

static void reply_attr(uint64_t unique, uint64_t ino)
{
	struct fuse_attr_out out;

	memset(&out, 0, sizeof out);
	out.attr_valid = ATTR_VALID_SECONDS;
	fill_attr(ino, &out.attr);
	reply(unique, 0, &out, sizeof out);
}

static void do_getattr(const struct fuse_in_header *h, size_t len)
{
	if (len < sizeof(struct fuse_getattr_in))
		return malformed(h->unique);
	if (!known(h->nodeid))
		return reply_err(h->unique, ENOENT);
	reply_attr(h->unique, h->nodeid);
}

/*
 * Nothing of ours can change: a size is accepted only when it is the size already (a
 * truncate to BYTES), times are accepted and ignored (touch works), and mode, owner or
 * group only when they equal what they are. Anything else is EPERM; never a truncate of
 * the store.
 */
static void do_setattr(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	struct fuse_setattr_in in;
	const uint32_t ignored = FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW |
				 FATTR_CTIME | FATTR_FH | FATTR_LOCKOWNER | FATTR_KILL_SUIDGID;

	if (len < sizeof in)
		return malformed(h->unique);
	memcpy(&in, arg, sizeof in);
	if (!known(h->nodeid))
		return reply_err(h->unique, ENOENT);
	if ((in.valid & ~ignored) && h->uid != 0)
		return reply_err(h->unique, EPERM);
	if ((in.valid & FATTR_SIZE) && (h->nodeid != INO_AREA || in.size != area_size))
		return reply_err(h->unique, EPERM);
	if ((in.valid & FATTR_MODE) && (in.mode & 07777) != (mode_of(h->nodeid) & 07777))
		return reply_err(h->unique, EPERM);
	if (((in.valid & FATTR_UID) && in.uid != 0) || ((in.valid & FATTR_GID) && in.gid != 0))
		return reply_err(h->unique, EPERM);
	reply_attr(h->unique, h->nodeid);
}

static void do_open(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	struct fuse_open_in in;
	struct fuse_open_out out;
	uint32_t acc, want;

	if (len < sizeof in)
		return malformed(h->unique);
	memcpy(&in, arg, sizeof in);
	if (!known(h->nodeid))
		return reply_err(h->unique, ENOENT);
	if (h->nodeid == INO_ROOT)
		return reply_err(h->unique, EISDIR);
	acc = in.flags & O_ACCMODE;
	want = acc == O_RDONLY ? R_OK : acc == O_WRONLY ? W_OK : R_OK | W_OK;
	if (!permitted(h->nodeid, h->uid, h->gid, want))
		return reply_err(h->unique, EACCES);
	if (in.flags & O_TRUNC)
		return reply_err(h->unique, EPERM);
	memset(&out, 0, sizeof out);
	out.fh = h->nodeid;
	/* No page cache for either file: area's pages would otherwise sit in FUSE's page cache
	 * charged to the swapping process's memcg and throttled by FUSE's strict dirty limit
	 * (research 1.3); stats is generated on each read. */
	out.open_flags = FOPEN_DIRECT_IO;
	if (h->nodeid == INO_AREA)
		out.open_flags |= FOPEN_PARALLEL_DIRECT_WRITES; /* no inode lock around direct writes */
	reply(h->unique, 0, &out, sizeof out);
}

static void do_read(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	struct fuse_read_in in;
	uint64_t n;
	int err;

	if (len < sizeof in)
		return malformed(h->unique);
	memcpy(&in, arg, sizeof in);
	if (in.size > MAX_READ)
		return malformed(h->unique);
	if (h->nodeid == INO_STATS) {
		/* Formatted afresh at offset 0; a reader going on in pieces gets the same text. */
		if (in.offset == 0)
			format_stats();
		if (in.offset >= stats_len)
			return reply(h->unique, 0, NULL, 0);
		n = stats_len - in.offset;
		if (n > in.size)
			n = in.size;
		return reply(h->unique, 0, stats_buf + in.offset, (size_t)n);
	}
	if (h->nodeid != INO_AREA)
		return reply_err(h->unique, known(h->nodeid) ? EISDIR : ENOENT);
	if (in.offset >= area_size)
		return reply(h->unique, 0, NULL, 0); /* EOF */
	n = area_size - in.offset;
	if (n > in.size)
		n = in.size;
	err = store_read(read_buf, (size_t)n, in.offset);
	if (err) {
		counters.errors++;
		say_io("reading the store", err);
		return reply_err(h->unique, err);
	}
	counters.reads++;
	counters.bytes_read += n;
	reply(h->unique, 0, read_buf, (size_t)n);
}

static void do_write(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	struct fuse_write_in in;
	struct fuse_write_out out;
	const unsigned char *data = arg + sizeof in;
	int err;

	if (len < sizeof in)
		return malformed(h->unique);
	memcpy(&in, arg, sizeof in);
	if (in.size > MAX_WRITE || len - sizeof in != in.size)
		return malformed(h->unique);
	if (h->nodeid != INO_AREA)
		return reply_err(h->unique, known(h->nodeid) ? EBADF : ENOENT);
	/* The area never grows: a write reaching past BYTES is refused whole, and the store
	 * (which may be longer than BYTES) is not touched past it. */
	if (in.offset > area_size || in.size > area_size - in.offset)
		return reply_err(h->unique, EFBIG);
	err = store_write(data, in.size, in.offset);
	if (err) {
		counters.errors++;
		say_io("writing the store", err);
		return reply_err(h->unique, err);
	}
	counters.writes++;
	counters.bytes_written += in.size;
	memset(&out, 0, sizeof out);
	out.size = in.size;
	reply(h->unique, 0, &out, sizeof out);
}

static void do_statfs(const struct fuse_in_header *h)
{
	struct fuse_statfs_out out;

	memset(&out, 0, sizeof out);
	out.st.blocks = area_size / PAGE;
	out.st.bfree = 0;
	out.st.bavail = 0;
	out.st.files = 3;
	out.st.ffree = 0;
	out.st.bsize = PAGE;
	out.st.frsize = PAGE;
	out.st.namelen = 255;
	reply(h->unique, 0, &out, sizeof out);
}

static void do_fsync(const struct fuse_in_header *h, size_t len)
{
	if (len < sizeof(struct fuse_fsync_in))
		return malformed(h->unique);
	if (h->nodeid == INO_AREA && fdatasync(store_fd) != 0) {
		int err = errno;

		counters.errors++;
		say_io("fdatasync of the store", err);
		return reply_err(h->unique, err);
	}
	reply_err(h->unique, 0);
}

static void do_opendir(const struct fuse_in_header *h, size_t len)
{
	struct fuse_open_out out;

	if (len < sizeof(struct fuse_open_in))
		return malformed(h->unique);
	if (h->nodeid != INO_ROOT)
		return reply_err(h->unique, known(h->nodeid) ? ENOTDIR : ENOENT);
	memset(&out, 0, sizeof out);
	out.fh = INO_ROOT;
	reply(h->unique, 0, &out, sizeof out);
}

static void do_readdir(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	static const struct {
		const char *name;
		uint64_t ino;
		uint32_t type;
	} entries[] = {
		{ ".", INO_ROOT, DT_DIR },
		{ "..", INO_ROOT, DT_DIR },
		{ "area", INO_AREA, DT_REG },
		{ "stats", INO_STATS, DT_REG },
	};
	struct fuse_read_in in;
	size_t used = 0, cap;

	if (len < sizeof in)
		return malformed(h->unique);
	memcpy(&in, arg, sizeof in);
	if (h->nodeid != INO_ROOT)
		return reply_err(h->unique, known(h->nodeid) ? ENOTDIR : ENOENT);
	cap = in.size < sizeof dir_buf ? in.size : sizeof dir_buf;
	for (uint64_t i = in.offset; i < sizeof entries / sizeof entries[0]; i++) {
		size_t namelen = strlen(entries[i].name);
		size_t size = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
		struct fuse_dirent d;

		if (used + size > cap)
			break;
		memset(dir_buf + used, 0, size);
		d.ino = entries[i].ino;
		d.off = i + 1; /* where the next read goes on */
		d.namelen = (uint32_t)namelen;
		d.type = entries[i].type;
		memcpy(dir_buf + used, &d, FUSE_NAME_OFFSET);
		memcpy(dir_buf + used + FUSE_NAME_OFFSET, entries[i].name, namelen);
		used += size;
	}
	reply(h->unique, 0, dir_buf, used);
}

static void do_access(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	struct fuse_access_in in;

	if (len < sizeof in)
		return malformed(h->unique);
	memcpy(&in, arg, sizeof in);
	if (!known(h->nodeid))
		return reply_err(h->unique, ENOENT);
	reply_err(h->unique, permitted(h->nodeid, h->uid, h->gid, in.mask & 7) ? 0 : EACCES);
}

/*
 * Every fallocate is refused, a hole punched included (what the loop device makes of a
 * discard or of a zero-out): the store must stay allocated, block for block. A hole would
 * fail the store's next check ("has a hole") and make the next write of that page allocate
 * blocks on the swap path, under the very memory shortage that sent the page out. The
 * refusal is EOPNOTSUPP, not ENOSYS, so that each one is counted (discards_refused); a
 * zero-out that is refused falls back to writing zeroes in the block layer.
 */
static void do_fallocate(const struct fuse_in_header *h, const unsigned char *arg, size_t len)
{
	(void)arg; /* whatever the mode and range: each is refused */
	if (len < sizeof(struct fuse_fallocate_in))
		return malformed(h->unique);
	counters.discards_refused++;
	reply_err(h->unique, EOPNOTSUPP);
}

/* One request, already read whole into REQ (n bytes). */
static void handle(size_t n)
{
	struct fuse_in_header h;
	const unsigned char *arg = REQ + sizeof h;
	size_t len, ext;

	if (n < sizeof h) {
		counters.errors++; /* no header, no unique to answer */
		return;
	}
	memcpy(&h, REQ, sizeof h);
	if (h.opcode == FUSE_FORGET || h.opcode == FUSE_BATCH_FORGET || h.opcode == FUSE_INTERRUPT ||
	    h.opcode == FUSE_NOTIFY_REPLY)
		return; /* never answered; our inodes are fixed, so lookups need no counting */
	ext = (size_t)h.total_extlen * 8;
	if (h.len != n || n - sizeof h < ext)
		return malformed(h.unique);
	len = n - sizeof h - ext; /* the arguments, without extension headers */

	switch (h.opcode) {
	case FUSE_LOOKUP:
		return do_lookup(&h, arg, len);
	case FUSE_GETATTR:
		return do_getattr(&h, len);
	case FUSE_SETATTR:
		return do_setattr(&h, arg, len);
	case FUSE_OPEN:
		return do_open(&h, arg, len);
	case FUSE_READ:
		return do_read(&h, arg, len);
	case FUSE_WRITE:
		return do_write(&h, arg, len);
	case FUSE_STATFS:
		return do_statfs(&h);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FLUSH:
	case FUSE_FSYNCDIR:
		return reply_err(h.unique, 0);
	case FUSE_FSYNC:
		return do_fsync(&h, len);
	case FUSE_OPENDIR:
		return do_opendir(&h, len);
	case FUSE_READDIR:
		return do_readdir(&h, arg, len);
	case FUSE_ACCESS:
		return do_access(&h, arg, len);
	case FUSE_FALLOCATE:
		return do_fallocate(&h, arg, len);
	case FUSE_DESTROY:
		reply_err(h.unique, 0);
		_exit(0);
	case FUSE_INIT:
		return reply_err(h.unique, EPROTO); /* only once, at the start */
	/*
	 * The namespace is fixed. EPERM, not ENOSYS: for these the kernel hands ENOSYS to the
	 * caller as it is ("function not implemented"), and for CREATE it would only fall
	 * back to MKNOD, refused the same way.
	 */
	case FUSE_SYMLINK:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_LINK:
	case FUSE_CREATE:
		return reply_err(h.unique, EPERM);
	case FUSE_READLINK:
		return reply_err(h.unique, EINVAL);
	case FUSE_IOCTL:
		return reply_err(h.unique, ENOTTY);
	/*
	 * ENOSYS where the kernel remembers it (fc->no_getxattr, no_setxattr, no_listxattr,
	 * no_removexattr, no_poll, no_lseek, no_copy_file_range, no_bmap, no_tmpfile,
	 * no_statx, sync_fs) and from then on answers itself or falls back to its generic
	 * code: each is asked once in the mount's life.
	 */
	case FUSE_GETXATTR:
	case FUSE_SETXATTR:
	case FUSE_LISTXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_POLL:
	case FUSE_LSEEK:
	case FUSE_COPY_FILE_RANGE:
	case FUSE_BMAP:
	case FUSE_TMPFILE:
	case FUSE_SYNCFS:
	case USWAP_FUSE_STATX:
	default:
		return reply_err(h.unique, ENOSYS);
	}
}

/* read(2) of one whole request; retries what the protocol says to retry. Returns the
 * length, or -1 with errno (ENODEV: the mount is gone). */
static ssize_t next_request(void)
{
	for (;;) {
		ssize_t n = read(fuse_fd, REQ, REQ_SIZE);

		if (n >= 0)
			return n;
		/* ENOENT: the request was interrupted before it could be read. */
		if (errno == ENOENT || errno == EINTR || errno == EAGAIN)
			continue;
		return -1;
	}
}

/* The first request is the kernel's FUSE_INIT: answered here, during setup. */
static void init(void)
{
	struct fuse_in_header h;
	struct fuse_init_in in;
	struct init_out_743 out;
	const uint32_t wanted = FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_ASYNC_DIO;
	size_t len;
	ssize_t n = next_request();

	if (n < 0)
		fail(EXIT_SETUP, "reading FUSE_INIT from /dev/fuse: %s", strerror(errno));
	if ((size_t)n < sizeof h)
		fail(EXIT_SETUP, "FUSE_INIT: a message of %zd bytes, shorter than a header", n);
	memcpy(&h, REQ, sizeof h);
	if (h.opcode != FUSE_INIT)
		fail(EXIT_SETUP, "the first FUSE message is opcode %u, not FUSE_INIT", h.opcode);
	len = (size_t)n - sizeof h;
	/* 16 bytes before 7.36 (no flags2), sizeof(fuse_init_in) from then on. */
	if (h.len != (size_t)n || len < offsetof(struct fuse_init_in, flags2))
		fail(EXIT_SETUP, "FUSE_INIT: malformed (len %u, read %zd)", h.len, n);
	memset(&in, 0, sizeof in);
	memcpy(&in, REQ + sizeof h, len < sizeof in ? len : sizeof in);
	if (in.major != FUSE_KERNEL_VERSION || in.minor < MIN_KERNEL_MINOR) {
		reply_err(h.unique, EPROTO);
		fail(EXIT_SETUP, "the kernel speaks FUSE %u.%u; this daemon needs 7.%u or later", in.major,
		     in.minor, MIN_KERNEL_MINOR);
	}

	memset(&out, 0, sizeof out);
	out.major = FUSE_KERNEL_VERSION;
	out.minor = in.minor < PROTO_MINOR ? in.minor : PROTO_MINOR;
	out.max_readahead = in.max_readahead;
	/* Only what the kernel offered. Never FUSE_WRITEBACK_CACHE (dirty FUSE pages under
	 * reclaim, research 1.3), nor FUSE_ATOMIC_O_TRUNC (a truncate reaches SETATTR, which
	 * refuses it), nor FUSE_POSIX_LOCKS. */
	out.flags = in.flags & wanted;
	out.max_background = MAX_BACKGROUND;
	out.congestion_threshold = CONGESTION_THRESHOLD;
	out.max_write = MAX_WRITE;
	out.time_gran = 1;
	out.max_pages = MAX_PAGES;
	if (request_timeout && (in.flags & FUSE_INIT_EXT) && (in.flags2 & FLAGS2_REQUEST_TIMEOUT)) {
		/* flags2 is read only when FUSE_INIT_EXT is in flags. */
		out.flags |= FUSE_INIT_EXT;
		out.flags2 = FLAGS2_REQUEST_TIMEOUT;
		out.request_timeout = (uint16_t)request_timeout;
		timeout_asked = (unsigned)request_timeout;
	}
	msg("uswapd: kernel FUSE %u.%u offered flags 0x%08x flags2 0x%08x max_readahead %u; "
	    "answered 7.%u with flags 0x%08x flags2 0x%08x request_timeout %u",
	    in.major, in.minor, in.flags, (in.flags & FUSE_INIT_EXT) ? in.flags2 : 0, in.max_readahead,
	    out.minor, out.flags, out.flags2, timeout_asked);

	struct fuse_out_header oh = { .len = sizeof oh + sizeof out, .error = 0, .unique = h.unique };
	struct iovec iov[2] = { { &oh, sizeof oh }, { &out, sizeof out } };

	/* The kernel processes the INIT reply within this write: when it returns, the mount
	 * is usable. */
	if (writev(fuse_fd, iov, 2) < 0)
		fail(EXIT_SETUP, "answering FUSE_INIT: %s", strerror(errno));
}

static void ready(void)
{
	char line[96];
	size_t n = 0;

	n = put_str(line, n, sizeof line, "ready io_flusher=");
	n = put_u64(line, n, sizeof line, (uint64_t)io_flusher);
	n = put_str(line, n, sizeof line, " pid=");
	n = put_u64(line, n, sizeof line, (uint64_t)getpid());
	n = put_str(line, n, sizeof line, " request_timeout=");
	n = put_u64(line, n, sizeof line, (uint64_t)timeout_asked);
	n = put_str(line, n, sizeof line, "\n");
	/* EPIPE (SIGPIPE ignored): the parent stopped waiting; it takes the mount down. */
	if (write(ready_fd, line, n) < 0)
		msg("uswapd: writing the ready line: %s", strerror(errno));
	close(ready_fd);
	ready_fd = -1;
}

int main(int argc, char **argv)
{
	const char *store_arg = NULL, *size_arg = NULL, *ready_arg = NULL, *timeout_arg = NULL;
	int require_io_flusher = 0;
	char target[64], data[256];
	int dir_fd;

	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;

		if (!strcmp(argv[i], "--require-io-flusher")) {
			require_io_flusher = 1;
			continue;
		}
		if (!strcmp(argv[i], "--mountpoint"))
			slot = &mountpoint;
		else if (!strcmp(argv[i], "--store-fd"))
			slot = &store_arg;
		else if (!strcmp(argv[i], "--size"))
			slot = &size_arg;
		else if (!strcmp(argv[i], "--ready-fd"))
			slot = &ready_arg;
		else if (!strcmp(argv[i], "--request-timeout"))
			slot = &timeout_arg;
		else {
			msg("uswapd: unknown argument %s", argv[i]);
			usage("bad arguments");
		}
		if (i + 1 >= argc)
			usage("an option without its value");
		if (*slot)
			usage("an option given twice");
		*slot = argv[++i];
	}
	if (!mountpoint || !store_arg || !size_arg || !ready_arg)
		usage("--mountpoint, --store-fd, --size and --ready-fd are all required");
	if (mountpoint[0] != '/')
		fail(EXIT_BAD_INPUT, "--mountpoint %s: not an absolute path", mountpoint);
	if ((store_fd = parse_fd(store_arg)) < 0)
		fail(EXIT_BAD_INPUT, "--store-fd %s: not a descriptor number", store_arg);
	if ((ready_fd = parse_fd(ready_arg)) < 0)
		fail(EXIT_BAD_INPUT, "--ready-fd %s: not a descriptor number", ready_arg);
	if (parse_u64(size_arg, &area_size) || area_size == 0 || area_size % PAGE ||
	    area_size > (uint64_t)INT64_MAX)
		fail(EXIT_BAD_INPUT, "--size %s: not a positive multiple of %u bytes", size_arg, PAGE);
	if (timeout_arg && (parse_u64(timeout_arg, &request_timeout) ||
			    request_timeout > MAX_REQUEST_TIMEOUT))
		fail(EXIT_BAD_INPUT, "--request-timeout %s: not a whole number of seconds from 0 to %u",
		     timeout_arg, MAX_REQUEST_TIMEOUT);
	if (store_fd == ready_fd || store_fd <= STDERR_FILENO || ready_fd <= STDERR_FILENO)
		fail(EXIT_BAD_INPUT, "--store-fd %d and --ready-fd %d must be two distinct descriptors above 2",
		     store_fd, ready_fd);
	if (fcntl(ready_fd, F_GETFD) < 0)
		fail(EXIT_BAD_INPUT, "--ready-fd %d: not an open descriptor: %s", ready_fd, strerror(errno));
	fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
	check_store();
	fcntl(store_fd, F_SETFD, FD_CLOEXEC);
	clock_gettime(CLOCK_REALTIME, &started);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * IO_FLUSHER first, before anything is made: with --require-io-flusher a refusal must
	 * leave nothing behind. It is a flag of this task, inherited by threads made later (we
	 * make none).
	 */
	io_flusher = prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0;
	if (!io_flusher && require_io_flusher)
		fail(EXIT_IO_FLUSHER, "%s", IO_FLUSHER_REFUSED);

	dir_fd = check_mountpoint();

	/* Everything mapped now (the static buffers included) and later stays in RAM: no page
	 * of this daemon can be swapped out to the area it serves. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		fail(EXIT_SETUP, "mlockall: %s", strerror(errno));

	fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuse_fd < 0)
		fail(EXIT_SETUP, "opening /dev/fuse: %s", strerror(errno));

	/*
	 * From the mount on, ending on a signal would throw away the pages of an active swap
	 * area: SIGTERM, SIGINT and SIGHUP are ignored. The orderly end is the parent's
	 * umount2(DIR, 0), after which read(/dev/fuse) fails with ENODEV.
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	snprintf(data, sizeof data,
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,max_read=%u", fuse_fd, MAX_READ);
	/* Mounted on the directory just checked (through its descriptor), not on whatever
	 * the path names by now. */
	snprintf(target, sizeof target, "/proc/self/fd/%d", dir_fd);
	if (mount("swapadmin-uswap", target, "fuse.swapadmin-uswap", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  data) != 0)
		fail(EXIT_SETUP, "mount of FUSE at %s: %s", mountpoint, strerror(errno));
	mounted = 1;
	close(dir_fd);

	init();
	ready();

	for (;;) {
		ssize_t n = next_request();

		if (n < 0) {
			if (errno == ENODEV)
				_exit(0); /* unmounted (or the connection aborted): the orderly end */
			say_io("reading /dev/fuse", errno);
			_exit(EXIT_SERVE_FAILED);
		}
		handle((size_t)n);
	}
}
