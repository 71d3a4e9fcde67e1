/*
 * faultyfs: a FUSE filesystem holding one file, /disk, backed by an image file, that answers
 * every read and/or write touching a chosen page with EIO. A loop device over /disk is then a
 * real block device with bad sectors, which this kernel (no device-mapper, so no dm-error)
 * cannot otherwise give the tests.
 *
 *   faultyfs --image PATH --bad 100-103,700 [--fail rw|r|w] [--page-size N] MOUNTPOINT -f
 *
 * Pages are counted in --page-size bytes (default: the system page size); ranges are
 * inclusive. Every other FUSE option is passed through to fuse_main.
 *
 * /disk is opened with direct_io, so the kernel keeps no FUSE page cache for it: each loop
 * request reaches this process, and a bad page can never be answered from a cached copy.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct range {
    uint64_t first, last;
};

static struct {
    int fd;
    off_t size;
    uint64_t page_size;
    int fail_reads, fail_writes;
    struct range *bad;
    size_t nbad;
} fs;

static const char *DISK = "/disk";

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "faultyfs: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static uint64_t parse_page(const char *s, char **end)
{
    errno = 0;
    unsigned long long v = strtoull(s, end, 10);
    if (errno || *end == s)
        die("bad page number in --bad", s);
    return v;
}

/* "100-103,700" -> {100..103}, {700..700} */
static void parse_bad(const char *spec)
{
    const char *p = spec;
    while (*p) {
        char *end;
        struct range r;
        r.first = parse_page(p, &end);
        r.last = r.first;
        if (*end == '-')
            r.last = parse_page(end + 1, &end);
        if (r.last < r.first)
            die("a --bad range ends before it starts", spec);
        if (*end != ',' && *end != '\0')
            die("--bad takes pages and ranges separated by commas, e.g. 100-103,700", spec);
        fs.bad = realloc(fs.bad, (fs.nbad + 1) * sizeof *fs.bad);
        if (!fs.bad)
            die("out of memory", NULL);
        fs.bad[fs.nbad++] = r;
        p = *end ? end + 1 : end;
    }
}

static int touches_bad(off_t offset, size_t size)
{
    if (size == 0)
        return 0;
    uint64_t first = (uint64_t)offset / fs.page_size;
    uint64_t last = ((uint64_t)offset + size - 1) / fs.page_size;
    for (size_t i = 0; i < fs.nbad; i++)
        if (fs.bad[i].first <= last && first <= fs.bad[i].last)
            return 1;
    return 0;
}

static void *ffs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    /* The file never changes behind the kernel's back: attributes may be cached forever. */
    cfg->attr_timeout = 3600;
    cfg->entry_timeout = 3600;
    cfg->direct_io = 1;
    /* This process serves a device that may become swap: it must never wait on swap itself. */
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        perror("faultyfs: mlockall (continuing)");
    return NULL;
}

static int ffs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    memset(st, 0, sizeof *st);
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
    } else if (strcmp(path, DISK) == 0) {
        st->st_mode = S_IFREG | 0600;
        st->st_nlink = 1;
        st->st_size = fs.size;
        st->st_blksize = fs.page_size;
        st->st_blocks = fs.size / 512;
    } else {
        return -ENOENT;
    }
    return 0;
}

static int ffs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off, (void)fi, (void)flags;
    if (strcmp(path, "/") != 0)
        return -ENOENT;
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    fill(buf, DISK + 1, NULL, 0, 0);
    return 0;
}

static int ffs_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, DISK) != 0)
        return -ENOENT;
    if (fi->flags & O_TRUNC)
        return -EPERM;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    return 0;
}

static int ffs_read(const char *path, char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)path, (void)fi;
    if (off >= fs.size)
        return 0;
    if ((off_t)size > fs.size - off)
        size = fs.size - off;
    if (fs.fail_reads && touches_bad(off, size))
        return -EIO;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fs.fd, buf + done, size - done, off + done);
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += n;
    }
    return done;
}

static int ffs_write(const char *path, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)path, (void)fi;
    if (off + (off_t)size > fs.size)
        return -ENOSPC; /* a disk does not grow */
    if (fs.fail_writes && touches_bad(off, size))
        return -EIO;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fs.fd, buf + done, size - done, off + done);
        if (n < 0)
            return -errno;
        done += n;
    }
    return done;
}

static int ffs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    (void)path, (void)fi;
    return size == fs.size ? 0 : -EPERM;
}

static int ffs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path, (void)datasync, (void)fi;
    return fdatasync(fs.fd) ? -errno : 0;
}

static int ffs_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path, (void)fi;
    return 0;
}

static const struct fuse_operations ops = {
    .init = ffs_init,
    .getattr = ffs_getattr,
    .readdir = ffs_readdir,
    .open = ffs_open,
    .read = ffs_read,
    .write = ffs_write,
    .truncate = ffs_truncate,
    .fsync = ffs_fsync,
    .flush = ffs_flush,
};

int main(int argc, char *argv[])
{
    const char *image = NULL, *fail = "rw";
    char **rest = calloc(argc + 1, sizeof *rest);
    int nrest = 0;
    if (!rest)
        die("out of memory", NULL);
    /* A test stopped with its server (SIGSTOP, to make the device hang) and then killed
       itself must not leave a device that hangs every later reader, udev included: the
       server dies with its test (SIGKILL ends even a stopped process), and the device
       then fails fast instead. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        die("prctl(PR_SET_PDEATHSIG)", NULL);
    if (getppid() == 1)
        die("its test ended before it started", NULL);
    fs.page_size = sysconf(_SC_PAGESIZE);
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(opt, "--image") == 0 && has_value)
            image = argv[++i];
        else if (strcmp(opt, "--bad") == 0 && has_value)
            parse_bad(argv[++i]);
        else if (strcmp(opt, "--fail") == 0 && has_value)
            fail = argv[++i];
        else if (strcmp(opt, "--page-size") == 0 && has_value)
            fs.page_size = strtoull(argv[++i], NULL, 10);
        else
            rest[nrest++] = argv[i];
    }
    if (!image)
        die("--image PATH is required", NULL);
    if (fs.page_size == 0)
        die("--page-size must be positive", NULL);
    fs.fail_reads = strchr(fail, 'r') != NULL;
    fs.fail_writes = strchr(fail, 'w') != NULL;
    if (!fs.fail_reads && !fs.fail_writes)
        die("--fail takes r, w or rw", fail);
    fs.fd = open(image, O_RDWR | O_CLOEXEC);
    if (fs.fd < 0)
        die("cannot open the image", image);
    struct stat st;
    if (fstat(fs.fd, &st) != 0)
        die("cannot stat the image", image);
    fs.size = st.st_size;
    return fuse_main(nrest, rest, &ops, NULL);
}
