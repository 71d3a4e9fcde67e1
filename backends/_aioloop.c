/*
 * backends._aioloop: the benchmark's submit/complete loop over Linux native AIO, in C.
 *
 * Why C: issue 14 asks for random 4 KiB page I/O at fio's speed. The same loop in Python
 * (pageio._AioLoop) spends a few microseconds of interpreter time per request, which at
 * 100k+ requests a second on one core is the whole gap to fio (0.8x). Here the loop is
 * fio's: one request per io_submit (a batch plugs the queue), reaped as they complete.
 *
 * What it does not do: open, prove or choose anything. Python hands it an AIO context, the
 * backend's own proven descriptor and the buffers; this runs for one slice of time and then
 * waits for every request it submitted, so Python can look at /proc/swaps, report progress
 * and honour a cancel between slices, and no request outlives the call or its buffers.
 *
 * The GIL is released for the whole slice: nothing here touches a Python object then.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_DEPTH 256

enum status { DONE = 0, SUBMIT_FAILED = 1, IO_FAILED = 2, LEASE_BROKEN = 3 };

/* The largest area the loop accepts, in pages (2^48 pages: 1 EiB): bounds every product
 * below far inside a long long. */
#define MAX_PAGES (1LL << 48)
#define MAX_RUN_PAGES 65536

struct slice {
    /* in */
    aio_context_t ctx;
    int fd;
    int lease_fd;     /* a descriptor holding a write lease on the store, or -1 */
    int write;
    char *data;       /* depth buffers of nbytes each, aligned for O_DIRECT */
    long long nbytes; /* bytes per request */
    long long first;  /* first slot a request may start at */
    long long runs;   /* request starts: first + k * run_pages, k in [0, runs) */
    long long run_pages;
    int random;
    int depth;
    long long slice_ns;
    uint64_t *lat;    /* one latency (ns) per completed request */
    long long lat_cap;
    /* in and out */
    uint64_t state;   /* the sequential counter, or the random generator's state */
    /* out */
    long long ops;
    int status;
    long long err;    /* errno (SUBMIT_FAILED), the result (IO_FAILED) */
    long long err_offset;
};

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and good enough to spread request starts uniformly. */
static inline uint64_t next_random(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline long long next_offset(struct slice *s) {
    uint64_t k;
    if (s->random) {
        k = next_random(&s->state) % (uint64_t)s->runs;
    } else {
        k = s->state % (uint64_t)s->runs;
        s->state++;
    }
    return (s->first + (long long)k * s->run_pages) * PAGE;
}

static long submit_one(aio_context_t ctx, struct iocb *cb) {
    struct iocb *one[1] = {cb};
    long r;
    do {
        r = syscall(SYS_io_submit, ctx, 1L, one);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

static long reap(aio_context_t ctx, long min, long max, struct io_event *ev) {
    long r;
    do {
        r = syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

static void fail(struct slice *s, int status, long long err, long long offset) {
    if (s->status == DONE) { /* the first failure is the one reported */
        s->status = status;
        s->err = err;
        s->err_offset = offset;
    }
}

struct loop {
    struct slice *s;
    struct iocb cbs[MAX_DEPTH];
    uint64_t submitted[MAX_DEPTH];
    long long inflight;
    uint64_t deadline;
};

/* Submits request i at time t unless the slice is over, the latency array could not hold
 * its result, or a request has failed already. */
static void submit(struct loop *l, int i, uint64_t t) {
    struct slice *s = l->s;
    if (s->status != DONE || t >= l->deadline || s->ops + l->inflight >= s->lat_cap)
        return;
    /* Another open of the file breaks the lease, and waits until it is released: while it
     * holds, no one else has the file open, and once broken nothing more is submitted. */
    if (s->lease_fd >= 0 && fcntl(s->lease_fd, F_GETLEASE) != F_WRLCK) {
        fail(s, LEASE_BROKEN, 0, -1);
        return;
    }
    l->cbs[i].aio_offset = next_offset(s);
    l->submitted[i] = t;
    long rc = submit_one(s->ctx, &l->cbs[i]);
    if (rc == 1)
        l->inflight++;
    else /* 0 submitted is EAGAIN in all but name */
        fail(s, SUBMIT_FAILED, rc < 0 ? -rc : EAGAIN, (long long)l->cbs[i].aio_offset);
}

static void run_slice(struct slice *s) {
    static __thread struct loop l; /* 12 KiB: off the stack, one per thread */
    struct io_event events[MAX_DEPTH];

    memset(&l, 0, sizeof(l));
    l.s = s;
    l.deadline = now_ns() + (uint64_t)s->slice_ns;
    for (int i = 0; i < s->depth; i++) {
        l.cbs[i].aio_data = (uint64_t)i;
        l.cbs[i].aio_lio_opcode = s->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
        l.cbs[i].aio_fildes = (uint32_t)s->fd;
        l.cbs[i].aio_buf = (uint64_t)(uintptr_t)(s->data + (long long)i * s->nbytes);
        l.cbs[i].aio_nbytes = (uint64_t)s->nbytes;
    }
    uint64_t t = now_ns();
    for (int i = 0; i < s->depth; i++)
        submit(&l, i, t);
    while (l.inflight > 0) {
        long got = reap(s->ctx, 1, s->depth, events);
        if (got < 0) {
            /* Requests are left in flight that this call cannot wait for; the caller's
             * io_destroy does, before the buffers go. */
            fail(s, SUBMIT_FAILED, -got, -1);
            return;
        }
        t = now_ns();
        for (long e = 0; e < got; e++) {
            if (events[e].data >= (uint64_t)s->depth) {
                /* Not a request of this call: the context is not this loop's alone. */
                fail(s, SUBMIT_FAILED, EPROTO, -1);
                return;
            }
            int i = (int)events[e].data;
            long long res = events[e].res;
            l.inflight--;
            if (res != s->nbytes)
                fail(s, IO_FAILED, res, (long long)l.cbs[i].aio_offset);
            else
                s->lat[s->ops++] = t - l.submitted[i];
        }
        for (long e = 0; e < got; e++)
            submit(&l, (int)events[e].data, t);
    }
}

static PyObject *run(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *names[] = {"ctx", "fd", "lease_fd", "write", "data", "nbytes", "first",
                            "runs", "run_pages", "pages", "random", "depth", "slice_ns",
                            "latencies", "state", NULL};
    struct slice s;
    Py_buffer data, lat;
    unsigned long long ctx, state;
    long long pages;
    memset(&s, 0, sizeof(s));
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Kiipw*LLLLLpiLw*K", names, &ctx, &s.fd,
                                     &s.lease_fd, &s.write, &data, &s.nbytes, &s.first,
                                     &s.runs, &s.run_pages, &pages, &s.random, &s.depth,
                                     &s.slice_ns, &lat, &state))
        return NULL;
    const char *bad = NULL;
    /* Each bound before the product that relies on it, so nothing below can overflow. */
    if (s.depth < 1 || s.depth > MAX_DEPTH)
        bad = "depth must be 1 to 256";
    else if (pages < 2 || pages > MAX_PAGES)
        bad = "pages must be 2 to 2^48";
    else if (s.run_pages < 1 || s.run_pages > MAX_RUN_PAGES)
        bad = "run_pages must be 1 to 65536";
    else if (s.nbytes != s.run_pages * PAGE)
        bad = "nbytes must be run_pages whole pages";
    else if (s.first < 1 || s.first >= pages)
        bad = "first must be past slot 0 and inside the area";
    else if (s.runs < 1 || s.runs > (pages - s.first) / s.run_pages)
        bad = "runs must be at least 1, and every run inside the area";
    else if (s.slice_ns < 1 || s.slice_ns > 3600LL * 1000000000LL)
        bad = "slice_ns must be 1 ns to an hour";
    else if (s.random && state == 0)
        bad = "a random pattern's state must not be 0";
    else if (data.len < s.nbytes * s.depth)
        bad = "data must hold depth requests";
    else if (lat.itemsize != 8 || lat.len / 8 < s.depth)
        bad = "latencies must be 8-byte items, at least depth of them";
    if (bad != NULL) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&lat);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    s.ctx = (aio_context_t)ctx;
    s.state = state;
    s.data = data.buf;
    s.lat = lat.buf;
    s.lat_cap = lat.len / 8;
    Py_BEGIN_ALLOW_THREADS
    run_slice(&s);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyBuffer_Release(&lat);
    return Py_BuildValue("LKiLL", s.ops, (unsigned long long)s.state, s.status, s.err,
                         s.err_offset);
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))run, METH_VARARGS | METH_KEYWORDS,
     "run(*, ctx, fd, lease_fd, write, data, nbytes, first, runs, run_pages, pages, random,"
     " depth, slice_ns, latencies, state) -> (ops, state, status, err, err_offset)\n\n"
     "Keep depth requests in flight on fd for slice_ns, then wait for all of them. Requests"
     " start at slot first + k * run_pages, k < runs, all inside an area of pages pages."
     " status 0: done; 1: io_submit or io_getevents failed with errno err; 2: a request at"
     " byte err_offset returned err (a negative errno, or a short count); 3: the write lease"
     " on lease_fd was broken (another open of the file), nothing submitted since."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "backends._aioloop",
    "The benchmark's AIO loop in C (see pageio._CEngine).", -1, methods, NULL, NULL, NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__aioloop(void) { return PyModule_Create(&module); }
