/*
 * test_filestore.c - the production file store (pagestore/file/) through
 * its public surface only: the vtable, ct_filestore_open and the syscall
 * override table, which is how these tests inject EIO, ENOSPC, short
 * transfers, EINTR and a failing fdatasync.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/filestore.h"

#ifndef COWTREE_TEST_TMPDIR
#define COWTREE_TEST_TMPDIR "/tmp"
#endif

#define PS_SMALL 512u

static char tmp_dir[512];
static int path_seq;

/* ---- Fault-injecting syscalls -------------------------------------------- */

/* One faked call: counts calls, fails the next fail_left calls (after the
   first ok_first) with fail_errno, turns every odd call into EINTR, caps
   transfers. */
typedef struct fake_call {
    int calls;
    int fail_errno;
    int fail_left;
    int eintr_odd;
    size_t chunk_bytes;
    int ok_first; /* calls 1..ok_first succeed before fail_left applies */
    size_t max_asked; /* the most bytes one call asked to transfer */
    size_t edge;      /* when set: count calls asking across a multiple of it */
    int crossed;
} fake_call;

static fake_call f_pread;
static fake_call f_pwrite;
static fake_call f_fsync;
static fake_call f_fdatasync;
static fake_call f_ftruncate;
static fake_call f_pwritev;
static fake_call f_fallocate;
/* The last fallocate the store asked for, and what the real call said. */
static int falloc_mode;
static off_t falloc_off;
static off_t falloc_len;
static int falloc_real_rc;

/* Returns the errno this call must fail with, or 0 to perform it. */
static int fake_begin(fake_call *f)
{
    f->calls++;
    if (f->eintr_odd && (f->calls & 1)) {
        return EINTR;
    }
    if (f->fail_left > 0 && f->calls > f->ok_first) {
        f->fail_left--;
        return f->fail_errno;
    }
    return 0;
}

static size_t fake_cap(const fake_call *f, size_t n)
{
    return (f->chunk_bytes && n > f->chunk_bytes) ? f->chunk_bytes : n;
}

static ssize_t fake_pread(int fd, void *buf, size_t n, off_t off)
{
    int e = fake_begin(&f_pread);
    if (e) {
        errno = e;
        return -1;
    }
    return pread(fd, buf, fake_cap(&f_pread, n), off);
}

static ssize_t fake_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    f_pwrite.max_asked = n > f_pwrite.max_asked ? n : f_pwrite.max_asked;
    int e = fake_begin(&f_pwrite);
    if (e) {
        errno = e;
        return -1;
    }
    return pwrite(fd, buf, fake_cap(&f_pwrite, n), off);
}

static ino_t f_fsync_dir_ino; /* the last directory fsync'd, 0: none */

static int fake_fsync(int fd)
{
    int e = fake_begin(&f_fsync);
    if (e) {
        errno = e;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        f_fsync_dir_ino = st.st_ino;
    }
    return fsync(fd);
}

static int fake_fdatasync(int fd)
{
    int e = fake_begin(&f_fdatasync);
    if (e) {
        errno = e;
        return -1;
    }
    return fdatasync(fd);
}

static int fake_ftruncate(int fd, off_t len)
{
    int e = fake_begin(&f_ftruncate);
    if (e) {
        errno = e;
        return -1;
    }
    return ftruncate(fd, len);
}

/* Iovecs the fake copies when it caps a transfer (the store sends at most
   IOV_MAX = 1024 per call). */
#define FAKE_IOV_MAX 1024

static ssize_t fake_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    size_t asked = 0;
    for (int i = 0; i < cnt; i++) {
        asked += iov[i].iov_len;
    }
    f_pwritev.max_asked = asked > f_pwritev.max_asked ? asked : f_pwritev.max_asked;
    if (f_pwritev.edge && asked > 0 &&
        (uint64_t)off / f_pwritev.edge != ((uint64_t)off + asked - 1) / f_pwritev.edge) {
        f_pwritev.crossed++;
    }
    int e = fake_begin(&f_pwritev);
    if (e) {
        errno = e;
        return -1;
    }
    if (cnt > FAKE_IOV_MAX) {
        errno = EINVAL; /* what the kernel says past IOV_MAX */
        return -1;
    }
    /* Cap the transfer at chunk_bytes, cutting inside an iovec. */
    struct iovec cut[FAKE_IOV_MAX];
    size_t left = f_pwritev.chunk_bytes ? f_pwritev.chunk_bytes : SIZE_MAX;
    int n = 0;
    for (; n < cnt && left > 0; n++) {
        cut[n] = iov[n];
        if (cut[n].iov_len > left) {
            cut[n].iov_len = left;
        }
        left -= cut[n].iov_len;
    }
    return pwritev(fd, cut, n, off);
}

static int fake_fallocate(int fd, int mode, off_t off, off_t len)
{
    int e = fake_begin(&f_fallocate);
    falloc_mode = mode;
    falloc_off = off;
    falloc_len = len;
    if (e) {
        errno = e;
        return -1;
    }
    falloc_real_rc = fallocate(fd, mode, off, len);
    return falloc_real_rc;
}

static const ct_filestore_syscalls fake_syscalls = {
    .pread = fake_pread,
    .pwrite = fake_pwrite,
    .fsync = fake_fsync,
    .fdatasync = fake_fdatasync,
    .ftruncate = fake_ftruncate,
    .pwritev = fake_pwritev,
    .fallocate = fake_fallocate,
};

/* ---- Fixtures and helpers ------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/filestore-XXXXXX", COWTREE_TEST_TMPDIR);
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmp_dir);
    if (!d) {
        return -1;
    }
    char path[1024];
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
            (void)unlink(path);
        }
    }
    closedir(d);
    return rmdir(tmp_dir);
}

static int test_setup(void **state)
{
    (void)state;
    memset(&f_pread, 0, sizeof(f_pread));
    memset(&f_pwrite, 0, sizeof(f_pwrite));
    memset(&f_fsync, 0, sizeof(f_fsync));
    f_fsync_dir_ino = 0;
    memset(&f_fdatasync, 0, sizeof(f_fdatasync));
    memset(&f_ftruncate, 0, sizeof(f_ftruncate));
    memset(&f_pwritev, 0, sizeof(f_pwritev));
    memset(&f_fallocate, 0, sizeof(f_fallocate));
    falloc_mode = -1;
    falloc_off = -1;
    falloc_len = -1;
    falloc_real_rc = -1;
    return 0;
}

/* A fresh file name in the group's temp dir (the file does not exist). */
static const char *new_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s/db-%d", tmp_dir, path_seq++);
    return buf;
}

static ct_pagestore *open_store(const char *path, uint32_t page_size, unsigned flags,
                                const ct_filestore_syscalls *sys)
{
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = page_size;
    o.flags = flags;
    o.syscalls = sys;
    ct_pagestore *ps = NULL;
    assert_int_equal(ct_filestore_open(path, &o, &ps), CT_OK);
    assert_non_null(ps);
    return ps;
}

static int try_open(const char *path, uint32_t page_size, unsigned flags, ct_pagestore **ps)
{
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = page_size;
    o.flags = flags;
    return ct_filestore_open(path, &o, ps);
}

static void fill_page(unsigned char *buf, uint32_t page_size, uint64_t pgno, unsigned salt)
{
    for (uint32_t i = 0; i < page_size; i++) {
        buf[i] = (unsigned char)((pgno * 131u + i * 7u + salt) & 0xffu);
    }
}

static uint64_t store_size(ct_pagestore *ps)
{
    uint64_t n = 0;
    assert_int_equal(ps->ops->size(ps, &n), CT_OK);
    return n;
}

static void assert_all_zero(const unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(buf[i], 0);
    }
}

static void write_pattern(ct_pagestore *ps, uint64_t pgno, unsigned salt)
{
    unsigned char buf[PS_SMALL];
    fill_page(buf, PS_SMALL, pgno, salt);
    assert_int_equal(ps->ops->write(ps, pgno, 1, buf), CT_OK);
}

static void assert_pattern(ct_pagestore *ps, uint64_t pgno, unsigned salt)
{
    unsigned char want[PS_SMALL];
    unsigned char got[PS_SMALL];
    fill_page(want, PS_SMALL, pgno, salt);
    assert_int_equal(ps->ops->read(ps, pgno, 1, got), CT_OK);
    assert_memory_equal(got, want, PS_SMALL);
}

/* ---- Basic I/O ----------------------------------------------------------- */

/* A page written is read back byte for byte, and the store grows to it. */
static void test_read_after_write(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    assert_int_equal(ps->page_size, PS_SMALL);
    assert_int_equal(store_size(ps), 0);
    write_pattern(ps, 0, 1);
    assert_int_equal(store_size(ps), 1);
    assert_pattern(ps, 0, 1);
    write_pattern(ps, 0, 2); /* overwrite in place */
    assert_pattern(ps, 0, 2);
    ps->ops->close(ps);
}

/* Pages below a written page that were never written read as zeros, and a
   partial last page (a crash while the file grew) reads zero-filled. */
static void test_unwritten_pages_read_zero(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL * 5];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    write_pattern(ps, 5, 3);
    assert_int_equal(store_size(ps), 6);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(ps->ops->read(ps, 0, 5, buf), CT_OK);
    assert_all_zero(buf, sizeof(buf));
    ps->ops->close(ps);

    /* A 100-byte file is one page: 100 bytes of data, then zeros. */
    new_path(path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    memset(buf, 0x5a, 100);
    assert_int_equal(write(fd, buf, 100), 100);
    close(fd);
    ps = open_store(path, PS_SMALL, 0, NULL);
    assert_int_equal(store_size(ps), 1);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(ps->ops->read(ps, 0, 1, buf), CT_OK);
    for (size_t i = 0; i < 100; i++) {
        assert_int_equal(buf[i], 0x5a);
    }
    assert_all_zero(buf + 100, PS_SMALL - 100);
    ps->ops->close(ps);
}

/* Reading at or beyond size(), or a run that crosses it, is CT_INVALID. */
static void test_read_beyond_size_invalid(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL * 2];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    assert_int_equal(ps->ops->read(ps, 0, 1, buf), CT_INVALID);
    write_pattern(ps, 0, 1);
    write_pattern(ps, 1, 1);
    assert_int_equal(ps->ops->read(ps, 2, 1, buf), CT_INVALID);
    assert_int_equal(ps->ops->read(ps, 1, 2, buf), CT_INVALID);
    assert_int_equal(ps->ops->read(ps, UINT64_MAX, 1, buf), CT_INVALID);
    assert_int_equal(ps->ops->read(ps, 1, UINT32_MAX, buf), CT_INVALID);
    assert_int_equal(ps->ops->read(ps, 0, 2, buf), CT_OK);
    ps->ops->close(ps);
}

/* One call moves many pages: a multi-page write reads back as single
   pages and as one run, at the smallest and the largest page size. */
static void test_multi_page_io(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {CT_PAGE_SIZE_MIN, 4096u, CT_PAGE_SIZE_MAX};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint32_t psz = sizes[s];
        char path[600];
        unsigned char *in = malloc((size_t)psz * 8u);
        unsigned char *out = malloc((size_t)psz * 8u);
        assert_non_null(in);
        assert_non_null(out);
        for (uint64_t p = 0; p < 8; p++) {
            fill_page(in + p * psz, psz, 3 + p, 9);
        }
        ct_pagestore *ps = open_store(new_path(path, sizeof(path)), psz, 0, NULL);
        assert_int_equal(ps->ops->write(ps, 3, 8, in), CT_OK);
        assert_int_equal(store_size(ps), 11);
        assert_int_equal(ps->ops->read(ps, 3, 8, out), CT_OK);
        assert_memory_equal(out, in, (size_t)psz * 8u);
        for (uint64_t p = 0; p < 8; p++) {
            assert_int_equal(ps->ops->read(ps, 3 + p, 1, out), CT_OK);
            assert_memory_equal(out, in + p * psz, psz);
        }
        ps->ops->close(ps);
        free(in);
        free(out);
    }
}

/* resize grows with zero pages and shrinking drops the tail for good. */
static void test_resize_up_down(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL * 2];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    assert_int_equal(ps->ops->resize(ps, 10), CT_OK);
    assert_int_equal(store_size(ps), 10);
    assert_int_equal(ps->ops->read(ps, 8, 2, buf), CT_OK);
    assert_all_zero(buf, sizeof(buf));
    write_pattern(ps, 3, 4);
    write_pattern(ps, 4, 4);
    write_pattern(ps, 9, 4);
    assert_int_equal(ps->ops->resize(ps, 4), CT_OK);
    assert_int_equal(store_size(ps), 4);
    assert_int_equal(ps->ops->read(ps, 4, 1, buf), CT_INVALID);
    assert_pattern(ps, 3, 4);
    assert_int_equal(ps->ops->resize(ps, 6), CT_OK);
    assert_int_equal(ps->ops->read(ps, 4, 2, buf), CT_OK);
    assert_all_zero(buf, sizeof(buf)); /* the dropped tail does not come back */
    assert_int_equal(ps->ops->resize(ps, 0), CT_OK);
    assert_int_equal(store_size(ps), 0);
    ps->ops->close(ps);
}

/* Data synced and closed is there, unchanged, when the file is reopened. */
static void test_reopen_keeps_data(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    for (uint64_t p = 0; p < 6; p++) {
        write_pattern(ps, p, 5);
    }
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    ps->ops->close(ps);
    ps = open_store(path, PS_SMALL, 0, NULL);
    assert_int_equal(store_size(ps), 6);
    for (uint64_t p = 0; p < 6; p++) {
        assert_pattern(ps, p, 5);
    }
    ps->ops->close(ps);
    /* The same file seen through a larger page size: 3072 bytes = 1 page. */
    ps = open_store(path, 4096u, CT_FS_RDONLY, NULL);
    assert_int_equal(store_size(ps), 1);
    ps->ops->close(ps);
}

/* ---- Locking ------------------------------------------------------------- */

/* A writer excludes every other opener in this process; readers share. */
static void test_second_open_busy(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *other = NULL;
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    assert_int_equal(try_open(path, PS_SMALL, 0, &other), CT_BUSY);
    assert_null(other);
    assert_int_equal(try_open(path, PS_SMALL, CT_FS_RDONLY, &other), CT_BUSY);
    ps->ops->close(ps);

    /* Two read-only openers coexist; a writer beside them is CT_BUSY. */
    ps = open_store(path, PS_SMALL, CT_FS_RDONLY, NULL);
    ct_pagestore *ro2 = open_store(path, PS_SMALL, CT_FS_RDONLY, NULL);
    assert_int_equal(try_open(path, PS_SMALL, 0, &other), CT_BUSY);
    ps->ops->close(ps);
    ro2->ops->close(ro2);

    /* close released the lock. */
    ps = open_store(path, PS_SMALL, 0, NULL);
    ps->ops->close(ps);
}

/* Another process opening a file we hold gets CT_BUSY: the child reports
   the rc it saw through its exit status. */
static void test_second_open_busy_from_child(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ct_pagestore *child = NULL;
        int rc_rw = try_open(path, PS_SMALL, 0, &child);
        int rc_ro = try_open(path, PS_SMALL, CT_FS_RDONLY, &child);
        _exit(rc_rw == CT_BUSY && rc_ro == CT_BUSY && child == NULL ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    ps->ops->close(ps);
}

/* ---- Arguments and modes ------------------------------------------------- */

/* Bad paths, page sizes, flags and I/O arguments are CT_INVALID; page size
   0 means 4096; a missing file under NOCREATE or RDONLY is CT_NOTFOUND. */
static void test_bad_arguments(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = NULL;
    unsigned char buf[PS_SMALL];
    new_path(path, sizeof(path));
    assert_int_equal(ct_filestore_open(NULL, NULL, &ps), CT_INVALID);
    assert_int_equal(ct_filestore_open(path, NULL, NULL), CT_INVALID);
    assert_int_equal(ct_filestore_open("", NULL, &ps), CT_INVALID);
    static const uint32_t bad_sizes[] = {1u, 256u, 1000u, 4095u, 131072u, UINT32_MAX};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        assert_int_equal(try_open(path, bad_sizes[i], 0, &ps), CT_INVALID);
    }
    assert_int_equal(try_open(path, PS_SMALL, 0x80u, &ps), CT_INVALID);
    assert_int_equal(try_open(path, PS_SMALL, CT_FS_NOCREATE, &ps), CT_NOTFOUND);
    assert_int_equal(try_open(path, PS_SMALL, CT_FS_RDONLY, &ps), CT_NOTFOUND);
    assert_int_equal(access(path, F_OK), -1); /* nothing was created */
    assert_int_equal(try_open(tmp_dir, PS_SMALL, 0, &ps), CT_INVALID);
    assert_null(ps);

    ps = open_store(path, 0, 0, NULL);
    assert_int_equal(ps->page_size, 4096u);
    ps->ops->close(ps);
    ps = open_store(path, PS_SMALL, 0, NULL);
    write_pattern(ps, 0, 1);
    assert_int_equal(ps->ops->read(ps, 0, 1, NULL), CT_INVALID);
    assert_int_equal(ps->ops->read(ps, 0, 0, buf), CT_INVALID);
    assert_int_equal(ps->ops->write(ps, 0, 1, NULL), CT_INVALID);
    assert_int_equal(ps->ops->write(ps, 0, 0, buf), CT_INVALID);
    assert_int_equal(ps->ops->size(ps, NULL), CT_INVALID);
    assert_int_equal(ps->ops->write(ps, UINT64_MAX, 1, buf), CT_NOSPACE);
    assert_int_equal(ps->ops->resize(ps, UINT64_MAX), CT_NOSPACE);
    assert_int_equal(store_size(ps), 1);
    ps->ops->close(ps);
}

/* A read-only store reads, refuses write/resize with CT_READONLY, and its
   sync is a harmless no-op. */
static void test_rdonly_refuses_writes(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    write_pattern(ps, 0, 6);
    ps->ops->close(ps);
    ps = open_store(path, PS_SMALL, CT_FS_RDONLY, NULL);
    assert_pattern(ps, 0, 6);
    assert_int_equal(ps->ops->write(ps, 0, 1, buf), CT_READONLY);
    assert_int_equal(ps->ops->resize(ps, 4), CT_READONLY);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    assert_int_equal(store_size(ps), 1);
    assert_pattern(ps, 0, 6);
    ps->ops->close(ps);
}

/* Opening for write a file we may not write is CT_READONLY, while opening
   it read-only works. Root may write anything, so as root the check runs in
   a child that drops to uid/gid 65534 (it exits 77, a skip, if it cannot). */
static void test_no_write_permission_readonly(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    ps->ops->close(ps);
    assert_int_equal(chmod(path, 0444), 0);
    assert_int_equal(chmod(tmp_dir, 0711), 0); /* let the unprivileged child in */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
            _exit(77);
        }
        if (access(path, R_OK) != 0) {
            _exit(77); /* a parent directory shuts the unprivileged user out */
        }
        ct_pagestore *child = NULL;
        int rc_rw = try_open(path, PS_SMALL, 0, &child);
        int rc_ro = try_open(path, PS_SMALL, CT_FS_RDONLY, &child);
        _exit(rc_rw == CT_READONLY && rc_ro == CT_OK ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(chmod(tmp_dir, 0700), 0);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Creating a file fsyncs its directory (its name must be durable), and so
   does a writable open of a file still empty (its creator may have
   stopped before that sync); opening a file with pages, or read-only,
   does not; a failing directory sync fails open, and the next writable
   open of the file left behind syncs again. */
static void test_create_syncs_parent_dir(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    assert_int_equal(f_fsync.calls, 1);
    ps->ops->close(ps);
    ps = open_store(path, PS_SMALL, 0, &fake_syscalls);
    assert_int_equal(f_fsync.calls, 2); /* still empty */
    unsigned char page[PS_SMALL];
    memset(page, 7, sizeof page);
    assert_int_equal(ps->ops->write(ps, 0, 1, page), CT_OK);
    ps->ops->close(ps);
    ps = open_store(path, PS_SMALL, 0, &fake_syscalls);
    assert_int_equal(f_fsync.calls, 2);
    ps->ops->close(ps);
    ps = open_store(path, PS_SMALL, CT_FS_RDONLY, &fake_syscalls);
    assert_int_equal(f_fsync.calls, 2);
    ps->ops->close(ps);

    f_fsync.fail_errno = EIO;
    f_fsync.fail_left = 1;
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.syscalls = &fake_syscalls;
    ps = NULL;
    assert_int_equal(ct_filestore_open(new_path(path, sizeof(path)), &o, &ps), CT_IO);
    assert_null(ps);
    int calls = f_fsync.calls;
    ps = open_store(path, PS_SMALL, 0, &fake_syscalls);
    assert_int_equal(f_fsync.calls, calls + 1);
    ps->ops->close(ps);
}

/* Through a symbolic link: a link whose target does not exist yet is
   followed and the target created (it was CT_IO: an exclusive create
   refuses any existing link), and the directory synced is the one that
   holds the target's name, not the link's. */
static void test_open_through_symlinks(void **state)
{
    (void)state;
    char app[600];
    char data[600];
    char link_path[700];
    char target[700];
    snprintf(app, sizeof app, "%s/app-%d", tmp_dir, path_seq);
    snprintf(data, sizeof data, "%s/data-%d", tmp_dir, path_seq++);
    assert_int_equal(mkdir(app, 0700), 0);
    assert_int_equal(mkdir(data, 0700), 0);
    snprintf(link_path, sizeof link_path, "%s/db", app);
    snprintf(target, sizeof target, "%s/db", data);
    assert_int_equal(symlink(target, link_path), 0);
    ct_pagestore *ps = open_store(link_path, PS_SMALL, 0, &fake_syscalls);
    struct stat st;
    struct stat dir_st;
    assert_int_equal(lstat(target, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(stat(data, &dir_st), 0);
    assert_true(f_fsync_dir_ino == dir_st.st_ino);
    unsigned char page[PS_SMALL];
    fill_page(page, PS_SMALL, 0, 12);
    assert_int_equal(ps->ops->write(ps, 0, 1, page), CT_OK);
    ps->ops->close(ps);
    ps = open_store(target, PS_SMALL, CT_FS_RDONLY, NULL);
    assert_pattern(ps, 0, 12);
    ps->ops->close(ps);
    assert_int_equal(unlink(link_path), 0);
    assert_int_equal(unlink(target), 0);
    assert_int_equal(rmdir(app), 0);
    assert_int_equal(rmdir(data), 0);
}

/* A path that cannot name a file (a component that is no directory,
   symbolic links in a loop, a name past NAME_MAX) is CT_INVALID, the
   code for bad input, not CT_IO, the code for a failing disk. */
static void test_bad_paths_invalid(void **state)
{
    (void)state;
    char file[600];
    char under[700];
    ct_pagestore *ps = open_store(new_path(file, sizeof(file)), PS_SMALL, 0, NULL);
    ps->ops->close(ps);
    snprintf(under, sizeof under, "%s/x", file);
    ps = NULL;
    assert_int_equal(try_open(under, PS_SMALL, 0, &ps), CT_INVALID);
    assert_int_equal(try_open(under, PS_SMALL, CT_FS_NOCREATE, &ps), CT_INVALID);
    char a[600];
    char b[600];
    new_path(a, sizeof(a));
    new_path(b, sizeof(b));
    assert_int_equal(symlink(b, a), 0);
    assert_int_equal(symlink(a, b), 0);
    assert_int_equal(try_open(a, PS_SMALL, 0, &ps), CT_INVALID);
    char long_name[700];
    int n = snprintf(long_name, sizeof long_name, "%s/", tmp_dir);
    memset(long_name + n, 'n', 300);
    long_name[n + 300] = '\0';
    assert_int_equal(try_open(long_name, PS_SMALL, 0, &ps), CT_INVALID);
    assert_null(ps);
    assert_int_equal(unlink(a), 0);
    assert_int_equal(unlink(b), 0);
}

/* The process's file-size limit (RLIMIT_FSIZE): a write or resize that
   would grow the file past it is CT_NOSPACE, with nothing written, and
   the process lives (the kernel's SIGXFSZ would end it). Run in a child,
   which lowers its own limit. */
static void test_file_size_limit_is_nospace(void **state)
{
    (void)state;
    char path[600];
    new_path(path, sizeof(path));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit r;
        r.rlim_cur = 64u * PS_SMALL;
        r.rlim_max = 64u * PS_SMALL;
        if (setrlimit(RLIMIT_FSIZE, &r) != 0) {
            _exit(2);
        }
        ct_filestore_options o;
        ct_filestore_options_init(&o);
        o.page_size = PS_SMALL;
        ct_pagestore *ps = NULL;
        if (ct_filestore_open(path, &o, &ps) != CT_OK) {
            _exit(3);
        }
        static unsigned char run[8 * PS_SMALL];
        memset(run, 3, sizeof run);
        const void *one[1] = {run};
        int ok = ps->ops->write(ps, 0, 8, run) == CT_OK &&
                 ps->ops->resize(ps, 64) == CT_OK &&
                 ps->ops->write(ps, 60, 8, run) == CT_NOSPACE &&
                 ps->ops->writev(ps, 64, 1, one) == CT_NOSPACE &&
                 ps->ops->resize(ps, 65) == CT_NOSPACE &&
                 ps->ops->write(ps, 56, 8, run) == CT_OK &&
                 ps->ops->resize(ps, 32) == CT_OK;
        uint64_t size = 0;
        ok = ok && ps->ops->size(ps, &size) == CT_OK && size == 32;
        ps->ops->close(ps);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 32 * PS_SMALL);
}

/* Creates a store whose first `fails` directory fsyncs fail with err;
   the open must succeed after `calls` fsyncs in all. */
static void create_with_dir_sync_failing(int err, int fails, int calls)
{
    char path[600];
    f_fsync.fail_errno = err;
    f_fsync.fail_left = fails;
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    assert_int_equal(f_fsync.calls, calls);
    ps->ops->close(ps);
}

/* A file system that cannot sync a directory (fsync EINVAL) does not fail
   the creation of a database on it; an I/O error still does (above). */
static void test_parent_dir_sync_unsupported(void **state)
{
    (void)state;
    create_with_dir_sync_failing(EINVAL, 1, 1);
}

/* A directory sync interrupted by signals is retried. */
static void test_parent_dir_sync_retries_eintr(void **state)
{
    (void)state;
    create_with_dir_sync_failing(EINTR, 3, 4);
}

/* ---- Fault injection ----------------------------------------------------- */

/* pwrite failing with EIO is CT_IO; the store is not poisoned by it. */
static void test_pwrite_eio(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    f_pwrite.fail_errno = EIO;
    f_pwrite.fail_left = 1;
    fill_page(buf, PS_SMALL, 0, 7);
    assert_int_equal(ps->ops->write(ps, 0, 1, buf), CT_IO);
    assert_int_equal(ps->ops->write(ps, 0, 1, buf), CT_OK);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    assert_pattern(ps, 0, 7);
    ps->ops->close(ps);
}

/* The kernel short of memory (ENOMEM) on pwrite, pwritev or ftruncate is
   CT_IO: write, writev and resize promise CT_IO or CT_NOSPACE only
   (pagestore.h), and the store stays usable. */
static void test_enomem_on_write_is_io(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    fill_page(buf, PS_SMALL, 0, 9);
    f_pwrite.fail_errno = ENOMEM;
    f_pwrite.fail_left = 1;
    assert_int_equal(ps->ops->write(ps, 0, 1, buf), CT_IO);
    const void *pages[1] = {buf};
    f_pwritev.fail_errno = ENOMEM;
    f_pwritev.fail_left = 1;
    assert_int_equal(ps->ops->writev(ps, 0, 1, pages), CT_IO);
    f_ftruncate.fail_errno = ENOMEM;
    f_ftruncate.fail_left = 1;
    assert_int_equal(ps->ops->resize(ps, 4), CT_IO);
    assert_int_equal(ps->ops->write(ps, 0, 1, buf), CT_OK);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    assert_pattern(ps, 0, 9);
    ps->ops->close(ps);
}

/* A full disk, a quota or the file-size limit is CT_NOSPACE, on write and
   on resize alike; errno never leaks out as a return value. */
static void test_pwrite_enospc(void **state)
{
    (void)state;
    static const int errs[] = {ENOSPC, EDQUOT, EFBIG};
    char path[600];
    unsigned char buf[PS_SMALL];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    fill_page(buf, PS_SMALL, 0, 8);
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        f_pwrite.fail_errno = errs[i];
        f_pwrite.fail_left = 1;
        assert_int_equal(ps->ops->write(ps, 2, 1, buf), CT_NOSPACE);
        f_ftruncate.fail_errno = errs[i];
        f_ftruncate.fail_left = 1;
        assert_int_equal(ps->ops->resize(ps, 100), CT_NOSPACE);
    }
    assert_int_equal(store_size(ps), 0);
    f_ftruncate.fail_errno = EIO;
    f_ftruncate.fail_left = 1;
    assert_int_equal(ps->ops->resize(ps, 100), CT_IO);
    assert_int_equal(ps->ops->write(ps, 2, 1, buf), CT_OK);
    assert_int_equal(store_size(ps), 3);
    ps->ops->close(ps);
}

/* A write a few pages past the end writes zeros over the gap first, in
   its own pwrite; when that fails (ENOSPC) the write is CT_NOSPACE and
   the page is not written. A gap larger than CT_FS_GAP_FILL_PAGES is
   left alone. */
static void test_small_gap_filled_first(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    write_pattern(ps, 0, 3);
    f_pwrite.fail_errno = ENOSPC;
    f_pwrite.fail_left = 1;
    unsigned char buf[PS_SMALL];
    fill_page(buf, PS_SMALL, 5, 3);
    assert_int_equal(ps->ops->write(ps, 5, 1, buf), CT_NOSPACE);
    assert_int_equal(store_size(ps), 1);
    f_pwrite.calls = 0;
    write_pattern(ps, 5, 3);
    assert_int_equal(f_pwrite.calls, 2); /* the zeros, then the page */
    assert_int_equal(store_size(ps), 6);
    unsigned char got[PS_SMALL * 4];
    assert_int_equal(ps->ops->read(ps, 1, 4, got), CT_OK);
    assert_all_zero(got, sizeof(got));
    assert_pattern(ps, 5, 3);
    f_pwrite.calls = 0;
    write_pattern(ps, 6 + CT_FS_GAP_FILL_PAGES + 1, 3);
    assert_int_equal(f_pwrite.calls, 1); /* too far: no zeros */
    ps->ops->close(ps);
}

/* pread failing with EIO is CT_IO. */
static void test_pread_eio(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    write_pattern(ps, 0, 1);
    f_pread.fail_errno = EIO;
    f_pread.fail_left = 1;
    assert_int_equal(ps->ops->read(ps, 0, 1, buf), CT_IO);
    assert_pattern(ps, 0, 1);
    ps->ops->close(ps);
}

/* Short transfers (a few bytes per call) interleaved with EINTR on every
   other call are retried until the whole run has moved, invisibly. */
static void test_short_io_and_eintr_retried(void **state)
{
    (void)state;
    char path[600];
    unsigned char in[PS_SMALL * 3];
    unsigned char out[PS_SMALL * 3];
    for (uint64_t p = 0; p < 3; p++) {
        fill_page(in + p * PS_SMALL, PS_SMALL, p, 11);
    }
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    f_pwrite.chunk_bytes = 100;
    f_pwrite.eintr_odd = 1;
    assert_int_equal(ps->ops->write(ps, 0, 3, in), CT_OK);
    /* 1536 bytes in 100-byte pieces: 16 transfers, each after an EINTR. */
    assert_int_equal(f_pwrite.calls, 32);
    f_pread.chunk_bytes = 7;
    f_pread.eintr_odd = 1;
    memset(out, 0, sizeof(out));
    assert_int_equal(ps->ops->read(ps, 0, 3, out), CT_OK);
    assert_memory_equal(out, in, sizeof(in));
    f_fdatasync.eintr_odd = 1;
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    assert_int_equal(f_fdatasync.calls, 2);
    f_ftruncate.eintr_odd = 1;
    assert_int_equal(ps->ops->resize(ps, 2), CT_OK);
    assert_int_equal(store_size(ps), 2);
    /* The give-up bound counts EINTRs in a row, not in a call: one byte
       at a time, 1,536 transfers each after an EINTR (more EINTRs than
       the bound, CT_FS_RETRY_MAX = 1000 in pagestore/file/fs.h), still
       succeed. */
    f_pwrite.chunk_bytes = 1;
    f_pwrite.calls = 0;
    assert_int_equal(ps->ops->write(ps, 0, 3, in), CT_OK);
    assert_int_equal(f_pwrite.calls, 2 * (int)sizeof(in));
    f_pread.chunk_bytes = 1;
    memset(out, 0, sizeof(out));
    assert_int_equal(ps->ops->read(ps, 0, 3, out), CT_OK);
    assert_memory_equal(out, in, sizeof(in));
    ps->ops->close(ps);
}

/* A syscall stuck returning EINTR ends in CT_IO instead of spinning forever. */
static void test_endless_eintr_gives_up(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    write_pattern(ps, 0, 1);
    f_pwrite.fail_errno = EINTR;
    f_pwrite.fail_left = 1 << 30;
    f_pread.fail_errno = EINTR;
    f_pread.fail_left = 1 << 30;
    assert_int_equal(ps->ops->write(ps, 0, 1, buf), CT_IO);
    assert_int_equal(ps->ops->read(ps, 0, 1, buf), CT_IO);
    assert_true(f_pwrite.calls < 100000);
    ps->ops->close(ps);
}

/* A failed fdatasync poisons the store, whatever its errno (ENOSPC and
   EDQUOT come from writeback on thin or quota-bound storage, and the
   pages are as lost as after EIO): later writes, syncs and resizes fail
   with CT_IO without touching the file, even once the device would
   succeed again; reads still work; a reopen starts clean. */
static void test_failed_sync_poisons(void **state)
{
    (void)state;
    static const int errs[] = {EIO, ENOSPC, EDQUOT};
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        char path[600];
        unsigned char buf[PS_SMALL];
        test_setup(NULL);
        ct_pagestore *ps =
            open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
        write_pattern(ps, 0, 12);
        f_fdatasync.fail_errno = errs[i];
        f_fdatasync.fail_left = 1;
        assert_int_equal(ps->ops->sync(ps), CT_IO);
        int writes = f_pwrite.calls;
        int syncs = f_fdatasync.calls;
        fill_page(buf, PS_SMALL, 1, 12);
        assert_int_equal(ps->ops->write(ps, 1, 1, buf), CT_IO);
        assert_int_equal(ps->ops->sync(ps), CT_IO);
        assert_int_equal(ps->ops->sync(ps), CT_IO);
        assert_int_equal(ps->ops->resize(ps, 8), CT_IO);
        assert_int_equal(f_pwrite.calls, writes);
        assert_int_equal(f_fdatasync.calls, syncs);
        assert_int_equal(f_ftruncate.calls, 0);
        assert_int_equal(store_size(ps), 1);
        assert_pattern(ps, 0, 12);
        ps->ops->close(ps);

        ps = open_store(path, PS_SMALL, 0, &fake_syscalls);
        write_pattern(ps, 1, 12);
        assert_int_equal(ps->ops->sync(ps), CT_OK);
        ps->ops->close(ps);
    }
}

/* full_fsync makes sync call fsync rather than fdatasync; a failure there
   poisons the same way. */
static void test_full_fsync(void **state)
{
    (void)state;
    char path[600];
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = PS_SMALL;
    o.full_fsync = 1;
    o.syscalls = &fake_syscalls;
    ct_pagestore *ps = NULL;
    assert_int_equal(ct_filestore_open(new_path(path, sizeof(path)), &o, &ps), CT_OK);
    int dir_syncs = f_fsync.calls;
    write_pattern(ps, 0, 1);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    assert_int_equal(f_fsync.calls, dir_syncs + 1);
    assert_int_equal(f_fdatasync.calls, 0);
    f_fsync.fail_errno = EIO;
    f_fsync.fail_left = 1;
    assert_int_equal(ps->ops->sync(ps), CT_IO);
    assert_int_equal(ps->ops->sync(ps), CT_IO);
    assert_int_equal(f_fsync.calls, dir_syncs + 2);
    ps->ops->close(ps);
}

/* ---- Zero-copy reads (map) ------------------------------------------------ */

static ct_pagestore *open_store_map(const char *path, int enable_map)
{
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = PS_SMALL;
    o.enable_map = enable_map;
    ct_pagestore *ps = NULL;
    assert_int_equal(ct_filestore_open(path, &o, &ps), CT_OK);
    return ps;
}

static void assert_mapped_pattern(const void *m, uint64_t pgno, unsigned salt)
{
    unsigned char want[PS_SMALL];
    fill_page(want, PS_SMALL, pgno, salt);
    assert_non_null(m);
    assert_memory_equal(m, want, PS_SMALL);
}

/* A shrink whose ftruncate fails leaves the store as the file is: its
   size, its pages readable, and mapped, on a store with a map. */
static void test_failed_shrink_keeps_size(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    for (uint64_t p = 0; p < 4; p++) {
        write_pattern(ps, p, 9);
    }
    const int errs[] = {EIO, EPERM};
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        f_ftruncate.fail_errno = errs[i];
        f_ftruncate.fail_left = 1;
        assert_int_equal(ps->ops->resize(ps, 1), CT_IO);
        assert_int_equal(store_size(ps), 4);
        assert_pattern(ps, 3, 9);
        if (ps->ops->map) {
            assert_mapped_pattern(ps->ops->map(ps, 3), 3, 9);
        }
    }
    assert_int_equal(ps->ops->resize(ps, 1), CT_OK);
    assert_int_equal(store_size(ps), 1);
    ps->ops->close(ps);
}

/* map is on by default and shows exactly what write stored; rewriting a
   page with pwrite shows through the pointer handed out before (one page
   cache); pages at or past size() are NULL. */
static void test_map_coherent_with_write(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    assert_non_null(ps->ops->map);
    assert_null(ps->ops->map(ps, 0)); /* empty store */
    for (uint64_t p = 0; p < 4; p++) {
        write_pattern(ps, p, 1);
    }
    const void *m2 = ps->ops->map(ps, 2);
    assert_mapped_pattern(m2, 2, 1);
    assert_mapped_pattern(ps->ops->map(ps, 0), 0, 1);
    assert_null(ps->ops->map(ps, 4));
    assert_null(ps->ops->map(ps, UINT64_MAX));
    write_pattern(ps, 2, 9);
    assert_ptr_equal(ps->ops->map(ps, 2), m2);
    assert_mapped_pattern(m2, 2, 9);
    ps->ops->close(ps);
    /* A read-only store (O_RDONLY descriptor) maps too. */
    ps = open_store(path, PS_SMALL, CT_FS_RDONLY, NULL);
    assert_mapped_pattern(ps->ops->map(ps, 2), 2, 9);
    assert_null(ps->ops->map(ps, 4));
    ps->ops->close(ps);
}

/* Pointers never move: growing the file far past the first mapping chunk
   (1 MiB; here to 64 MiB, sparse) and writing other pages leaves earlier
   pointers equal and their bytes intact; pages in every chunk map. */
static void test_map_pointers_stable_across_growth(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    write_pattern(ps, 5, 2);
    const void *m5 = ps->ops->map(ps, 5);
    assert_mapped_pattern(m5, 5, 2);
    const uint64_t far[] = {2047, 2048, 4095, 4096, 10000, 70000, 131071};
    const void *mf[sizeof(far) / sizeof(far[0])];
    for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
        write_pattern(ps, far[i], 3);
        mf[i] = ps->ops->map(ps, far[i]);
        assert_mapped_pattern(mf[i], far[i], 3);
        assert_ptr_equal(ps->ops->map(ps, 5), m5);
    }
    write_pattern(ps, 6, 4);
    for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
        assert_ptr_equal(ps->ops->map(ps, far[i]), mf[i]);
        assert_mapped_pattern(mf[i], far[i], 3);
    }
    assert_mapped_pattern(m5, 5, 2);
    /* A hole inside the file maps as zeros, as read() gives. */
    const unsigned char *hole = ps->ops->map(ps, 50000);
    assert_non_null(hole);
    assert_all_zero(hole, PS_SMALL);
    ps->ops->close(ps);
}

/* After a shrink the dropped pages are never handed out (touching them
   would raise SIGBUS); after regrowing, the same page maps at the same
   address again, with its new bytes. */
static void test_map_shrink_then_regrow(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, NULL);
    for (uint64_t p = 0; p < 10; p++) {
        write_pattern(ps, p, 6);
    }
    const void *m8 = ps->ops->map(ps, 8);
    assert_mapped_pattern(m8, 8, 6);
    assert_int_equal(ps->ops->resize(ps, 5), CT_OK);
    assert_null(ps->ops->map(ps, 5));
    assert_null(ps->ops->map(ps, 8));
    assert_mapped_pattern(ps->ops->map(ps, 4), 4, 6);
    write_pattern(ps, 8, 7);
    assert_ptr_equal(ps->ops->map(ps, 8), m8);
    assert_mapped_pattern(m8, 8, 7);
    const unsigned char *m6 = ps->ops->map(ps, 6);
    assert_non_null(m6);
    assert_all_zero(m6, PS_SMALL); /* the dropped tail does not come back */
    ps->ops->close(ps);
}

/* A partial last page (a crash while the file grew) counts in size() but is
   never mapped: its tail lies past EOF. */
static void test_map_partial_last_page_null(void **state)
{
    (void)state;
    char path[600];
    new_path(path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(3 * PS_SMALL + 100)), 0);
    (void)close(fd);
    ct_pagestore *ps = open_store(path, PS_SMALL, 0, NULL);
    assert_int_equal(store_size(ps), 4);
    assert_non_null(ps->ops->map(ps, 2));
    assert_null(ps->ops->map(ps, 3));
    ps->ops->close(ps);
}

/* enable_map = 0 leaves the slot NULL: every read goes through pread. */
static void test_map_disabled(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_store_map(new_path(path, sizeof(path)), 0);
    assert_null(ps->ops->map);
    write_pattern(ps, 0, 1);
    assert_pattern(ps, 0, 1);
    ps->ops->close(ps);
}

#define DB_KEYS 3000u

static void db_key(unsigned i, char *key)
{
    snprintf(key, 16, "k%08u", i);
}

/* Fills a db with DB_KEYS keys over several commits, deletes every third. */
static void db_fill(ct_pagestore *ps)
{
    ct_db *db = NULL;
    assert_int_equal(ct_open(ps, NULL, &db), CT_OK);
    for (unsigned round = 0; round < 3; round++) {
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, 0, &t), CT_OK);
        for (unsigned i = round; i < DB_KEYS; i += 3) {
            char key[16];
            db_key(i, key);
            assert_int_equal(ct_put(t, NULL, key, 9, key, 9, 0), CT_OK);
        }
        assert_int_equal(ct_commit(t), CT_OK);
    }
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, 0, &t), CT_OK);
    for (unsigned i = 0; i < DB_KEYS; i += 3) {
        char key[16];
        db_key(i, key);
        assert_int_equal(ct_del(t, NULL, key, 9), CT_OK);
    }
    assert_int_equal(ct_commit(t), CT_OK);
    ct_close(db);
}

/* Reopens the db, scans it in order and gets a few keys. */
static void db_verify(ct_pagestore *ps)
{
    ct_db *db = NULL;
    assert_int_equal(ct_open(ps, NULL, &db), CT_OK);
    ct_check_report rep;
    assert_int_equal(ct_check(db, &rep), CT_OK);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
    ct_cursor *c = NULL;
    assert_int_equal(ct_cursor_open(t, NULL, &c), CT_OK);
    unsigned want = 1;
    int rc = ct_cursor_first(c);
    for (; rc == CT_OK; rc = ct_cursor_next(c)) {
        const void *k = NULL;
        const void *v = NULL;
        size_t klen = 0;
        size_t vlen = 0;
        char key[16];
        db_key(want, key);
        assert_int_equal(ct_cursor_get(c, &k, &klen, &v, &vlen), CT_OK);
        assert_int_equal(klen, 9);
        assert_memory_equal(k, key, 9);
        assert_memory_equal(v, key, 9);
        want += (want % 3 == 1) ? 1u : 2u;
    }
    assert_int_equal(rc, CT_NOTFOUND);
    assert_int_equal(want, DB_KEYS + 1u);
    const void *v = NULL;
    size_t vlen = 0;
    assert_int_equal(ct_get(t, NULL, "k00000002", 9, &v, &vlen), CT_OK);
    assert_int_equal(ct_get(t, NULL, "k00000003", 9, &v, &vlen), CT_NOTFOUND);
    ct_abort(t);
    ct_close(db);
}

/* A database on the file store works through both read paths, and a file
   written through one is read back through the other after reopening. */
static void test_map_db_both_paths(void **state)
{
    (void)state;
    for (int fill_map = 0; fill_map < 2; fill_map++) {
        char path[600];
        new_path(path, sizeof(path));
        ct_pagestore *ps = open_store_map(path, fill_map);
        db_fill(ps);
        db_verify(ps);
        ps->ops->close(ps);
        ps = open_store_map(path, !fill_map);
        db_verify(ps);
        ps->ops->close(ps);
    }
}

#define BIG_BYTES 20000u

/* Puts BIG_BYTES of 'Q' under "big" (an overflow run of 40 512-byte pages)
   and reads it back in a new txn. */
static void db_put_big(ct_pagestore *ps)
{
    ct_db *db = NULL;
    assert_int_equal(ct_open(ps, NULL, &db), CT_OK);
    unsigned char *big = malloc(BIG_BYTES);
    assert_non_null(big);
    memset(big, 'Q', BIG_BYTES);
    ct_txn *t = NULL;
    assert_int_equal(ct_begin(db, 0, &t), CT_OK);
    assert_int_equal(ct_put(t, NULL, "big", 3, big, BIG_BYTES, 0), CT_OK);
    assert_int_equal(ct_commit(t), CT_OK);
    /* A later commit, so recovery (which verifies the newest commit's own
       pages) accepts the run's commit without reading the run. */
    assert_int_equal(ct_begin(db, 0, &t), CT_OK);
    assert_int_equal(ct_put(t, NULL, "small", 5, "s", 1, 0), CT_OK);
    assert_int_equal(ct_commit(t), CT_OK);
    for (int round = 0; round < 2; round++) { /* the second read hits the memo */
        assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
        const void *v = NULL;
        size_t vlen = 0;
        assert_int_equal(ct_get(t, NULL, "big", 3, &v, &vlen), CT_OK);
        assert_int_equal(vlen, BIG_BYTES);
        assert_memory_equal(v, big, BIG_BYTES);
        ct_abort(t);
    }
    free(big);
    ct_close(db);
}

/* Flips one byte in the middle of the 'Q' run in the file. */
static void corrupt_big(const char *path)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    size_t len = (size_t)st.st_size;
    unsigned char *img = malloc(len);
    assert_non_null(img);
    assert_int_equal(pread(fd, img, len, 0), (ssize_t)len);
    size_t run = 0;
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < len && at == SIZE_MAX; i++) {
        run = img[i] == 'Q' ? run + 1 : 0;
        if (run == 400) {
            at = i - 200;
        }
    }
    assert_true(at != SIZE_MAX);
    unsigned char b = 'R';
    assert_int_equal(pwrite(fd, &b, 1, (off_t)at), 1);
    (void)close(fd);
    free(img);
}

/* A large value (an overflow run) reads back whole through both read
   paths, before and after reopening; a byte flipped inside the run in the
   file is CT_CORRUPT on either path, to ct_get and to ct_check. */
static void test_map_db_overflow(void **state)
{
    (void)state;
    for (int use_map = 0; use_map < 2; use_map++) {
        char path[600];
        new_path(path, sizeof(path));
        ct_pagestore *ps = open_store_map(path, use_map);
        db_put_big(ps);
        ps->ops->close(ps);
        corrupt_big(path);
        ps = open_store_map(path, use_map);
        ct_db *db = NULL;
        assert_int_equal(ct_open(ps, NULL, &db), CT_OK);
        ct_txn *t = NULL;
        assert_int_equal(ct_begin(db, CT_TXN_RDONLY, &t), CT_OK);
        const void *v = NULL;
        size_t vlen = 0;
        assert_int_equal(ct_get(t, NULL, "small", 5, &v, &vlen), CT_OK);
        assert_int_equal(ct_get(t, NULL, "big", 3, &v, &vlen), CT_CORRUPT);
        ct_abort(t);
        ct_check_report rep;
        assert_int_equal(ct_check(db, &rep), CT_CORRUPT);
        ct_close(db);
        ps->ops->close(ps);
    }
}

/* ---- writev ------------------------------------------------------------- */

/* npages pages tagged salt, page i at slot npages-1-i of buf (reverse order
   in memory, so a store that treats the run as one buffer reads wrong);
   vec[i] points at page i. */
static void gather_pages(unsigned char *buf, const void **vec, uint64_t pgno, uint32_t npages,
                         unsigned salt)
{
    for (uint32_t i = 0; i < npages; i++) {
        unsigned char *slot = buf + (size_t)(npages - 1u - i) * PS_SMALL;
        fill_page(slot, PS_SMALL, pgno + i, salt);
        vec[i] = slot;
    }
}

/* writev writes each page from its own pointer in one pwritev, grows the
   store, and reads back like write(). */
static void test_writev_round_trip(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL * 5];
    unsigned char out[PS_SMALL * 7];
    const void *vec[5];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    assert_non_null(ps->ops->writev);
    gather_pages(buf, vec, 2, 5, 21);
    assert_int_equal(ps->ops->writev(ps, 2, 5, vec), CT_OK);
    assert_int_equal(f_pwritev.calls, 1);
    assert_int_equal(f_pwrite.calls, 1); /* zeros over pages 0 and 1 first */
    assert_int_equal(store_size(ps), 7);
    assert_int_equal(ps->ops->read(ps, 0, 7, out), CT_OK);
    assert_all_zero(out, PS_SMALL * 2);
    for (uint64_t p = 2; p < 7; p++) {
        assert_pattern(ps, p, 21);
    }
    /* Inside the store: no growth. */
    gather_pages(buf, vec, 0, 2, 22);
    assert_int_equal(ps->ops->writev(ps, 0, 2, vec), CT_OK);
    assert_int_equal(store_size(ps), 7);
    assert_pattern(ps, 0, 22);
    assert_pattern(ps, 1, 22);
    assert_pattern(ps, 2, 21);
    /* Bad arguments change nothing and reach no syscall. */
    vec[1] = NULL;
    assert_int_equal(ps->ops->writev(ps, 0, 2, vec), CT_INVALID);
    assert_int_equal(ps->ops->writev(ps, 0, 0, vec), CT_INVALID);
    assert_int_equal(ps->ops->writev(ps, 0, 1, NULL), CT_INVALID);
    assert_int_equal(ps->ops->writev(ps, UINT64_MAX, 1, vec), CT_NOSPACE);
    assert_int_equal(f_pwritev.calls, 2);
    ps->ops->close(ps);

    ps = open_store(path, PS_SMALL, CT_FS_RDONLY, NULL);
    assert_int_equal(ps->ops->writev(ps, 0, 1, vec), CT_READONLY);
    assert_pattern(ps, 6, 21);
    ps->ops->close(ps);
}

/* vec[i] = page pgno + i, all from one buffer in ascending order: the
   pages of one multi-page buffer (an overflow run). */
static void run_pages(unsigned char *buf, const void **vec, uint64_t pgno, uint32_t npages,
                      unsigned salt)
{
    for (uint32_t i = 0; i < npages; i++) {
        fill_page(buf + (size_t)i * PS_SMALL, PS_SMALL, pgno + i, salt);
        vec[i] = buf + (size_t)i * PS_SMALL;
    }
}

/* pwritev calls that an overflow run's pages [first, first + n) take:
   pieces of CT_FS_RUN_PIECE_BYTES aligned in the file, each cut further
   into calls of at most FAKE_IOV_MAX pages (one iovec a page). */
static int run_calls_for(uint64_t first, uint64_t n)
{
    uint64_t per = CT_FS_RUN_PIECE_BYTES / PS_SMALL;
    int calls = 0;
    while (n > 0) {
        uint64_t room = per - first % per;
        room = room < FAKE_IOV_MAX ? room : FAKE_IOV_MAX;
        room = room < n ? room : n;
        first += room;
        n -= room;
        calls++;
    }
    return calls;
}

/* A long run of one buffer's pages is split into pwritev calls that stop
   at multiples of CT_FS_RUN_PIECE_BYTES and take at most IOV_MAX iovecs
   (the fake rejects more than 1024, as the kernel does), and write() into
   pwrite calls of CT_FS_RUN_PIECE_BYTES. */
static void test_writes_split_into_pieces(void **state)
{
    (void)state;
    enum { PIECE_PAGES = CT_FS_RUN_PIECE_BYTES / PS_SMALL, N = 2 * PIECE_PAGES + 500 };
    char path[600];
    unsigned char *buf = malloc((size_t)PS_SMALL * N);
    unsigned char *out = malloc((size_t)PS_SMALL * N);
    const void **vec = malloc(sizeof(*vec) * N);
    assert_non_null(buf);
    assert_non_null(out);
    assert_non_null(vec);
    run_pages(buf, vec, 0, N, 23);
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    assert_int_equal(ps->ops->writev(ps, 0, N, vec), CT_OK);
    assert_int_equal(f_pwritev.calls, run_calls_for(0, N));
    size_t per_call = PIECE_PAGES < FAKE_IOV_MAX ? PIECE_PAGES : FAKE_IOV_MAX;
    assert_int_equal(f_pwritev.max_asked, per_call * PS_SMALL);
    assert_int_equal(store_size(ps), N);
    assert_int_equal(ps->ops->read(ps, 0, N, out), CT_OK);
    for (uint32_t p = 0; p < N; p++) {
        assert_memory_equal(out + (size_t)p * PS_SMALL, vec[p], PS_SMALL);
    }
    /* write(): the same run from one buffer, in pieces too. */
    for (uint32_t p = 0; p < N; p++) {
        fill_page(buf + (size_t)p * PS_SMALL, PS_SMALL, p, 25);
    }
    assert_int_equal(ps->ops->write(ps, 0, N, buf), CT_OK);
    assert_int_equal(f_pwrite.calls, (N + PIECE_PAGES - 1) / PIECE_PAGES);
    assert_int_equal(f_pwrite.max_asked, CT_FS_RUN_PIECE_BYTES);
    for (uint64_t p = 0; p < N; p += 97) {
        assert_pattern(ps, p, 25);
    }
    /* A piece never crosses a multiple of the piece size in the file. */
    int before = f_pwritev.calls;
    assert_int_equal(ps->ops->writev(ps, PIECE_PAGES - 1, 2, vec), CT_OK);
    assert_int_equal(f_pwritev.calls, before + 2);
    before = f_pwrite.calls;
    assert_int_equal(ps->ops->write(ps, PIECE_PAGES - 1, 2, buf), CT_OK);
    assert_int_equal(f_pwrite.calls, before + 2);
    ps->ops->close(ps);
    free(vec);
    free(out);
    free(buf);
}

/* Counts the pwritev calls of one writev and the most bytes one asked. */
static void writev_calls(ct_pagestore *ps, uint64_t pgno, uint32_t npages, const void **vec,
                         int *calls, size_t *max_asked)
{
    f_pwritev.calls = 0;
    f_pwritev.max_asked = 0;
    assert_int_equal(ps->ops->writev(ps, pgno, npages, vec), CT_OK);
    *calls = f_pwritev.calls;
    *max_asked = f_pwritev.max_asked;
}

/* pwritev calls that pages [first, first + n) take in pieces of piece
   bytes aligned in the file. */
static int calls_for(uint64_t first, uint64_t n, size_t piece)
{
    uint64_t per = piece / PS_SMALL;
    return (int)((first + n + per - 1) / per - first / per);
}

/* Pages from separate buffers (node pages: each later rewritten alone)
   go in calls of at most CT_FS_NODE_PIECE_BYTES, so the page-cache folios
   a later one-page write walks stay small, except past the file's end
   while most recent writes grew the file (a bulk load); a call never
   mixes them with a multi-page buffer's pages, which keep the large
   pieces. */
static void test_node_pages_split_into_small_pieces(void **state)
{
    (void)state;
    enum { N = 300, RUN = 600 };
    char path[600];
    unsigned char *nodes = malloc((size_t)PS_SMALL * RUN);
    unsigned char *run = malloc((size_t)PS_SMALL * RUN);
    const void **vec = malloc(sizeof(*vec) * (RUN + 1));
    assert_non_null(nodes);
    assert_non_null(run);
    assert_non_null(vec);
    int node_calls = calls_for(0, N, CT_FS_NODE_PIECE_BYTES);
    size_t bulk_piece = CT_FS_WRITE_PIECE_BYTES / PS_SMALL;
    /* The sizes tell the two apart, and the last part runs past the end. */
    assert_true(calls_for(0, N, CT_FS_WRITE_PIECE_BYTES) < node_calls);
    assert_true(calls_for(2 * N, N, CT_FS_WRITE_PIECE_BYTES) <
                calls_for(2 * N, N, CT_FS_NODE_PIECE_BYTES));
    assert_true(bulk_piece < 3 * N && bulk_piece + RUN > 3 * N);
    int calls = 0;
    size_t asked = 0;
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    /* A fresh file grows: one call. (gather_pages lays page i + 1 before
       page i: separate buffers.) */
    gather_pages(nodes, vec, 0, N, 31);
    writev_calls(ps, 0, N, vec, &calls, &asked);
    assert_int_equal(calls, calls_for(0, N, CT_FS_WRITE_PIECE_BYTES));
    assert_int_equal(asked, (size_t)N * PS_SMALL);
    /* Rewrites inside the file (twice: now most of what was written). */
    gather_pages(nodes, vec, 0, N, 32);
    for (int i = 0; i < 2; i++) {
        writev_calls(ps, 0, N, vec, &calls, &asked);
        assert_int_equal(calls, node_calls);
        assert_int_equal(asked, CT_FS_NODE_PIECE_BYTES);
    }
    /* Growth amid rewrites is small too, until growth is most again. */
    gather_pages(nodes, vec, N, N, 33);
    writev_calls(ps, N, N, vec, &calls, &asked);
    assert_int_equal(calls, calls_for(N, N, CT_FS_NODE_PIECE_BYTES));
    gather_pages(nodes, vec, 2 * N, N, 34);
    writev_calls(ps, 2 * N, N, vec, &calls, &asked);
    assert_int_equal(calls, calls_for(2 * N, N, CT_FS_WRITE_PIECE_BYTES));
    for (uint64_t p = 0; p < 3 * N; p += 7) {
        assert_pattern(ps, p, p < N ? 32 : p < 2 * N ? 33 : 34);
    }
    /* One node page, a run, one node page, at a bulk piece edge, starting
       inside the file and running past its end (so small node pieces,
       whatever the counts): the run's pages never share a call with the
       nodes around them, and take the run pieces. */
    uint64_t at = bulk_piece;
    gather_pages(nodes, vec, at, 1, 35);
    run_pages(run, vec + 1, at + 1, RUN - 2, 35);
    gather_pages(nodes + PS_SMALL, vec + RUN - 1, at + RUN - 1, 1, 35);
    writev_calls(ps, at, RUN, vec, &calls, &asked);
    /* node | the run in its own pieces | node */
    assert_int_equal(calls, 2 + run_calls_for(at + 1, RUN - 2));
    assert_int_equal(asked, (size_t)(RUN - 2) * PS_SMALL);
    for (uint64_t p = at; p < at + RUN; p += 11) {
        assert_pattern(ps, p, 35);
    }
    assert_pattern(ps, at + RUN - 1, 35);
    ps->ops->close(ps);
    free(vec);
    free(run);
    free(nodes);
}

/* A writev that holds an overflow run and is a bulk write (at or past the
   file's end while growth dominates: a batch of large values appended)
   goes whole in run pieces, tree pages among the runs included, so the
   page cache can give the batch large folios; the same pages rewritten
   inside the file keep the kinds apart. */
static void test_appended_runs_carry_their_nodes(void **state)
{
    (void)state;
    enum { RUN = 300, TOTAL = 2 * RUN + 3 };
    char path[600];
    unsigned char *nodes = malloc((size_t)PS_SMALL * 3);
    unsigned char *runs = malloc((size_t)PS_SMALL * 2 * RUN);
    const void **vec = malloc(sizeof(*vec) * TOTAL);
    assert_non_null(nodes);
    assert_non_null(runs);
    assert_non_null(vec);
    /* node | run | node | run | node, from page 0 of a fresh file. */
    gather_pages(nodes, vec, 0, 1, 41);
    run_pages(runs, vec + 1, 1, RUN, 41);
    gather_pages(nodes + PS_SMALL, vec + 1 + RUN, 1 + RUN, 1, 41);
    run_pages(runs + (size_t)PS_SMALL * RUN, vec + 2 + RUN, 2 + RUN, RUN, 41);
    gather_pages(nodes + 2 * PS_SMALL, vec + TOTAL - 1, TOTAL - 1, 1, 41);
    int calls = 0;
    size_t asked = 0;
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    writev_calls(ps, 0, TOTAL, vec, &calls, &asked);
    assert_int_equal(calls, run_calls_for(0, TOTAL));
    assert_int_equal(asked, (size_t)TOTAL * PS_SMALL);
    /* Rewritten inside the file (now as much rewritten as grown): five
       calls, the kinds apart. */
    writev_calls(ps, 0, TOTAL, vec, &calls, &asked);
    assert_int_equal(calls, 5);
    assert_int_equal(asked, (size_t)RUN * PS_SMALL);
    for (uint64_t p = 0; p < TOTAL; p += 13) {
        assert_pattern(ps, p, 41);
    }
    ps->ops->close(ps);
    free(vec);
    free(runs);
    free(nodes);
}

/* Room for n node pages and the vector pointing at them. */
static void node_buffers(size_t n, unsigned char **nodes, const void ***vec)
{
    *nodes = malloc((size_t)PS_SMALL * n);
    *vec = malloc(sizeof(**vec) * n);
    assert_non_null(*nodes);
    assert_non_null(*vec);
}

/* The growth/rewrite count forgets: a long bulk load followed by as many
   rewrites leaves growth in small pieces again. */
static void test_write_mix_forgets(void **state)
{
    (void)state;
    enum { CHUNK = 512, TOTAL = 2 * CT_FS_WRITE_MIX_PAGES };
    char path[600];
    unsigned char *nodes = NULL;
    const void **vec = NULL;
    node_buffers(CHUNK, &nodes, &vec);
    int calls = 0;
    size_t asked = 0;
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    for (uint64_t p = 0; p < TOTAL; p += CHUNK) {
        gather_pages(nodes, vec, p, CHUNK, 41);
        writev_calls(ps, p, CHUNK, vec, &calls, &asked);
        assert_int_equal(asked, (size_t)CHUNK * PS_SMALL); /* bulk: one call */
    }
    for (uint64_t p = 0; p < TOTAL; p += CHUNK) {
        gather_pages(nodes, vec, p, CHUNK, 42);
        writev_calls(ps, p, CHUNK, vec, &calls, &asked);
        assert_int_equal(asked, CT_FS_NODE_PIECE_BYTES);
    }
    gather_pages(nodes, vec, TOTAL, CHUNK, 43);
    writev_calls(ps, TOTAL, CHUNK, vec, &calls, &asked);
    assert_int_equal(asked, CT_FS_NODE_PIECE_BYTES);
    assert_pattern(ps, TOTAL - 1, 42);
    assert_pattern(ps, TOTAL + CHUNK - 1, 43);
    ps->ops->close(ps);
    free(vec);
    free(nodes);
}

/* A write that starts past the end of the file (leaving a hole) is all
   growth: the appends that follow are still a bulk load, written in one
   call, not in node pieces. */
static void test_growth_past_a_hole_is_bulk(void **state)
{
    (void)state;
    enum { CHUNK = 256 };
    char path[600];
    unsigned char *nodes = NULL;
    const void **vec = NULL;
    node_buffers(CHUNK, &nodes, &vec);
    int calls = 0;
    size_t asked = 0;
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    gather_pages(nodes, vec, 2, 1, 44); /* pages 0 and 1 stay a hole */
    writev_calls(ps, 2, 1, vec, &calls, &asked);
    gather_pages(nodes, vec, 3, CHUNK, 44);
    writev_calls(ps, 3, CHUNK, vec, &calls, &asked);
    assert_true((size_t)CHUNK * PS_SMALL > CT_FS_NODE_PIECE_BYTES);
    assert_int_equal(asked, (size_t)CHUNK * PS_SMALL); /* bulk: one call */
    assert_int_equal(calls, 1);
    assert_pattern(ps, 2 + CHUNK, 44);
    ps->ops->close(ps);
    free(vec);
    free(nodes);
}

/* Node pages and a run written by short transfers that stop inside a
   page, with EINTR on every other call: every byte lands, and resumed
   calls of node pages never ask across a node-piece edge. */
static void test_short_writes_keep_piece_edges(void **state)
{
    (void)state;
    enum { N = 100, RUN = 40 };
    char path[600];
    unsigned char *nodes = malloc((size_t)PS_SMALL * (N + RUN));
    unsigned char *run = malloc((size_t)PS_SMALL * RUN);
    const void **vec = malloc(sizeof(*vec) * (N + RUN));
    assert_non_null(nodes);
    assert_non_null(run);
    assert_non_null(vec);
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    /* Grow the file once, then rewrite inside it: node pieces. */
    gather_pages(nodes, vec, 0, N + RUN, 51);
    assert_int_equal(ps->ops->writev(ps, 0, N + RUN, vec), CT_OK);
    gather_pages(nodes, vec, 0, N / 2, 52);
    run_pages(run, vec + N / 2, N / 2, RUN, 52);
    gather_pages(nodes + (size_t)(N / 2) * PS_SMALL, vec + N / 2 + RUN, N / 2 + RUN, N / 2, 52);
    /* Mixed: resumed calls cross the node/run boundaries mid-page. */
    f_pwritev.chunk_bytes = 700;
    f_pwritev.eintr_odd = 1;
    assert_int_equal(ps->ops->writev(ps, 0, N + RUN, vec), CT_OK);
    f_pwritev.chunk_bytes = 0;
    f_pwritev.eintr_odd = 0;
    for (uint64_t p = 0; p < N + RUN; p++) {
        assert_pattern(ps, p, 52);
    }
    /* Node pages alone: no call asks across a node-piece edge. */
    gather_pages(nodes, vec, 0, N, 53);
    f_pwritev.chunk_bytes = 700;
    f_pwritev.eintr_odd = 1;
    f_pwritev.edge = CT_FS_NODE_PIECE_BYTES;
    f_pwritev.crossed = 0;
    assert_int_equal(ps->ops->writev(ps, 0, N, vec), CT_OK);
    assert_int_equal(f_pwritev.crossed, 0);
    f_pwritev.chunk_bytes = 0;
    f_pwritev.eintr_odd = 0;
    f_pwritev.edge = 0;
    for (uint64_t p = 0; p < N; p++) {
        assert_pattern(ps, p, 53);
    }
    ps->ops->close(ps);
    free(vec);
    free(run);
    free(nodes);
}

/* Short transfers that stop inside an iovec, interleaved with EINTR on
   every other call, are resumed at the right byte, invisibly. */
static void test_writev_short_and_eintr(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL * 3];
    const void *vec[3];
    gather_pages(buf, vec, 0, 3, 24);
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    f_pwritev.chunk_bytes = 100;
    f_pwritev.eintr_odd = 1;
    assert_int_equal(ps->ops->writev(ps, 0, 3, vec), CT_OK);
    /* 1536 bytes in 100-byte pieces: 16 transfers, each after an EINTR. */
    assert_int_equal(f_pwritev.calls, 32);
    for (uint64_t p = 0; p < 3; p++) {
        assert_pattern(ps, p, 24);
    }
    /* One byte at a time: more EINTRs in the call than the give-up bound
       (CT_FS_RETRY_MAX), never that many in a row. */
    gather_pages(buf, vec, 0, 3, 26);
    f_pwritev.chunk_bytes = 1;
    f_pwritev.calls = 0;
    assert_int_equal(ps->ops->writev(ps, 0, 3, vec), CT_OK);
    assert_int_equal(f_pwritev.calls, 2 * (int)sizeof(buf));
    for (uint64_t p = 0; p < 3; p++) {
        assert_pattern(ps, p, 26);
    }
    /* A pwritev stuck in EINTR gives up with CT_IO. */
    f_pwritev.chunk_bytes = 0;
    f_pwritev.eintr_odd = 0;
    f_pwritev.fail_errno = EINTR;
    f_pwritev.fail_left = 1 << 30;
    assert_int_equal(ps->ops->writev(ps, 0, 1, vec), CT_IO);
    assert_true(f_pwritev.calls < 100000);
    ps->ops->close(ps);
}

/* ENOSPC, EDQUOT and EFBIG are CT_NOSPACE; EIO is CT_IO. A failed writev
   does not poison the store (only a failed sync does), and the size
   reflects what reached the file. */
static void test_writev_errors(void **state)
{
    (void)state;
    static const int errs[] = {ENOSPC, EDQUOT, EFBIG};
    char path[600];
    unsigned char buf[PS_SMALL * 2];
    const void *vec[2];
    gather_pages(buf, vec, 2, 2, 25);
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        f_pwritev.fail_errno = errs[i];
        f_pwritev.fail_left = 1;
        assert_int_equal(ps->ops->writev(ps, 2, 2, vec), CT_NOSPACE);
    }
    assert_int_equal(store_size(ps), 2); /* the zeros over the gap went first */
    f_pwritev.fail_errno = EIO;
    f_pwritev.fail_left = 1;
    assert_int_equal(ps->ops->writev(ps, 2, 2, vec), CT_IO);
    assert_int_equal(ps->ops->writev(ps, 2, 2, vec), CT_OK);
    assert_int_equal(store_size(ps), 4);
    assert_int_equal(ps->ops->sync(ps), CT_OK);
    assert_pattern(ps, 3, 25);
    /* One page moves, then ENOSPC: the size follows the file. */
    gather_pages(buf, vec, 4, 2, 26);
    f_pwritev.chunk_bytes = PS_SMALL;
    f_pwritev.ok_first = f_pwritev.calls + 1;
    f_pwritev.fail_errno = ENOSPC;
    f_pwritev.fail_left = 1;
    assert_int_equal(ps->ops->writev(ps, 4, 2, vec), CT_NOSPACE);
    assert_int_equal(store_size(ps), 5);
    assert_pattern(ps, 4, 26);
    ps->ops->close(ps);
}

/* A failed sync poisons writev like write: CT_IO without a syscall. */
static void test_writev_poisoned(void **state)
{
    (void)state;
    char path[600];
    unsigned char buf[PS_SMALL];
    const void *vec[1];
    ct_pagestore *ps = open_store(new_path(path, sizeof(path)), PS_SMALL, 0, &fake_syscalls);
    gather_pages(buf, vec, 0, 1, 27);
    assert_int_equal(ps->ops->writev(ps, 0, 1, vec), CT_OK);
    f_fdatasync.fail_errno = EIO;
    f_fdatasync.fail_left = 1;
    assert_int_equal(ps->ops->sync(ps), CT_IO);
    int calls = f_pwritev.calls;
    assert_int_equal(ps->ops->writev(ps, 1, 1, vec), CT_IO);
    assert_int_equal(f_pwritev.calls, calls);
    assert_int_equal(store_size(ps), 1);
    ps->ops->close(ps);
}

/* ---- Preallocation ------------------------------------------------------- */

static ct_pagestore *open_prealloc(const char *path, unsigned flags, uint64_t max_bytes)
{
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = PS_SMALL;
    o.flags = flags;
    o.syscalls = &fake_syscalls;
    o.prealloc_max_bytes = max_bytes;
    ct_pagestore *ps = NULL;
    assert_int_equal(ct_filestore_open(path, &o, &ps), CT_OK);
    return ps;
}

static struct stat stat_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st;
}

#define MIB ((off_t)1 << 20)

/* A growing write reserves blocks past the end with KEEP_SIZE: st_blocks
   runs ahead of st_size, size() does not move; the chunk doubles with the
   file; writes inside the reservation do not call fallocate again; and a
   shrink drops the reserved blocks. */
static void test_prealloc_ahead_of_size(void **state)
{
    (void)state;
    char path[600];
    new_path(path, sizeof(path));
    ct_pagestore *ps = open_prealloc(path, CT_FS_PREALLOC, 0);
    write_pattern(ps, 0, 31);
    assert_int_equal(f_fallocate.calls, 1);
    assert_int_equal(falloc_mode, FALLOC_FL_KEEP_SIZE);
    assert_int_equal(falloc_off, 0);
    assert_int_equal(falloc_len, PS_SMALL + MIB); /* the 1 MiB minimum chunk */
    assert_int_equal(store_size(ps), 1);
    struct stat st = stat_of(path);
    assert_int_equal(st.st_size, PS_SMALL);
    if (falloc_real_rc == 0) { /* the test directory's filesystem has fallocate */
        assert_true((off_t)st.st_blocks * 512 >= MIB);
    }
    for (uint64_t p = 1; p < 100; p++) {
        write_pattern(ps, p, 31);
    }
    assert_int_equal(f_fallocate.calls, 1);
    /* 4 MiB out: the chunk is the file's new end (it doubles). */
    uint64_t far = (uint64_t)(4 * MIB) / PS_SMALL;
    write_pattern(ps, far, 32);
    assert_int_equal(f_fallocate.calls, 2);
    assert_int_equal(falloc_off, 4 * MIB);
    assert_int_equal(falloc_len, PS_SMALL + 4 * MIB + PS_SMALL);
    assert_int_equal(stat_of(path).st_size, 4 * MIB + PS_SMALL);
    assert_pattern(ps, far, 32);
    assert_int_equal(ps->ops->resize(ps, 1), CT_OK);
    assert_true((off_t)stat_of(path).st_blocks * 512 < MIB);
    /* After the shrink the next growing write reserves again. */
    write_pattern(ps, 1, 33);
    assert_int_equal(f_fallocate.calls, 3);
    assert_pattern(ps, 0, 31);
    ps->ops->close(ps);
}

/* prealloc_max_bytes caps the chunk. */
static void test_prealloc_cap(void **state)
{
    (void)state;
    char path[600];
    ct_pagestore *ps = open_prealloc(new_path(path, sizeof(path)), CT_FS_PREALLOC, 2 * MIB);
    uint64_t far = (uint64_t)(8 * MIB) / PS_SMALL;
    write_pattern(ps, far, 34);
    assert_int_equal(f_fallocate.calls, 1);
    assert_int_equal(falloc_len, PS_SMALL + 2 * MIB);
    ps->ops->close(ps);
}

/* Without CT_FS_PREALLOC (the default): no fallocate, and the file holds
   only what was written. */
static void test_prealloc_disabled(void **state)
{
    (void)state;
    char path[600];
    new_path(path, sizeof(path));
    ct_pagestore *ps = open_prealloc(path, 0, 0);
    for (uint64_t p = 0; p < 4; p++) {
        write_pattern(ps, p, 35);
    }
    assert_int_equal(f_fallocate.calls, 0);
    assert_true((off_t)stat_of(path).st_blocks * 512 < 64 * 1024);
    ps->ops->close(ps);
}

/* A filesystem without fallocate (EOPNOTSUPP, ENOSYS) turns preallocation
   off for the store's life; any other failure is skipped and retried by
   the next growing write. The writes themselves succeed either way. */
static void test_prealloc_failures_tolerated(void **state)
{
    (void)state;
    static const int off_errs[] = {EOPNOTSUPP, ENOSYS};
    for (size_t i = 0; i < sizeof(off_errs) / sizeof(off_errs[0]); i++) {
        char path[600];
        test_setup(NULL);
        ct_pagestore *ps = open_prealloc(new_path(path, sizeof(path)), CT_FS_PREALLOC, 0);
        f_fallocate.fail_errno = off_errs[i];
        f_fallocate.fail_left = 1;
        write_pattern(ps, 0, 36);
        write_pattern(ps, (uint64_t)(8 * MIB) / PS_SMALL, 36);
        assert_int_equal(f_fallocate.calls, 1);
        assert_pattern(ps, 0, 36);
        ps->ops->close(ps);
    }
    char path[600];
    test_setup(NULL);
    ct_pagestore *ps = open_prealloc(new_path(path, sizeof(path)), CT_FS_PREALLOC, 0);
    f_fallocate.fail_errno = ENOSPC;
    f_fallocate.fail_left = 1;
    write_pattern(ps, 0, 37);
    write_pattern(ps, 1, 37);
    assert_int_equal(f_fallocate.calls, 2);
    assert_pattern(ps, 0, 37);
    assert_pattern(ps, 1, 37);
    ps->ops->close(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_read_after_write, test_setup),
        cmocka_unit_test_setup(test_unwritten_pages_read_zero, test_setup),
        cmocka_unit_test_setup(test_read_beyond_size_invalid, test_setup),
        cmocka_unit_test_setup(test_multi_page_io, test_setup),
        cmocka_unit_test_setup(test_resize_up_down, test_setup),
        cmocka_unit_test_setup(test_reopen_keeps_data, test_setup),
        cmocka_unit_test_setup(test_second_open_busy, test_setup),
        cmocka_unit_test_setup(test_second_open_busy_from_child, test_setup),
        cmocka_unit_test_setup(test_bad_arguments, test_setup),
        cmocka_unit_test_setup(test_rdonly_refuses_writes, test_setup),
        cmocka_unit_test_setup(test_no_write_permission_readonly, test_setup),
        cmocka_unit_test_setup(test_create_syncs_parent_dir, test_setup),
        cmocka_unit_test_setup(test_parent_dir_sync_retries_eintr, test_setup),
        cmocka_unit_test_setup(test_parent_dir_sync_unsupported, test_setup),
        cmocka_unit_test_setup(test_open_through_symlinks, test_setup),
        cmocka_unit_test_setup(test_bad_paths_invalid, test_setup),
        cmocka_unit_test_setup(test_file_size_limit_is_nospace, test_setup),
        cmocka_unit_test_setup(test_pwrite_eio, test_setup),
        cmocka_unit_test_setup(test_enomem_on_write_is_io, test_setup),
        cmocka_unit_test_setup(test_pwrite_enospc, test_setup),
        cmocka_unit_test_setup(test_failed_shrink_keeps_size, test_setup),
        cmocka_unit_test_setup(test_small_gap_filled_first, test_setup),
        cmocka_unit_test_setup(test_pread_eio, test_setup),
        cmocka_unit_test_setup(test_short_io_and_eintr_retried, test_setup),
        cmocka_unit_test_setup(test_endless_eintr_gives_up, test_setup),
        cmocka_unit_test_setup(test_failed_sync_poisons, test_setup),
        cmocka_unit_test_setup(test_full_fsync, test_setup),
        cmocka_unit_test_setup(test_map_coherent_with_write, test_setup),
        cmocka_unit_test_setup(test_map_pointers_stable_across_growth, test_setup),
        cmocka_unit_test_setup(test_map_shrink_then_regrow, test_setup),
        cmocka_unit_test_setup(test_map_partial_last_page_null, test_setup),
        cmocka_unit_test_setup(test_map_disabled, test_setup),
        cmocka_unit_test_setup(test_map_db_both_paths, test_setup),
        cmocka_unit_test_setup(test_map_db_overflow, test_setup),
        cmocka_unit_test_setup(test_writev_round_trip, test_setup),
        cmocka_unit_test_setup(test_writes_split_into_pieces, test_setup),
        cmocka_unit_test_setup(test_node_pages_split_into_small_pieces, test_setup),
        cmocka_unit_test_setup(test_appended_runs_carry_their_nodes, test_setup),
        cmocka_unit_test_setup(test_write_mix_forgets, test_setup),
        cmocka_unit_test_setup(test_growth_past_a_hole_is_bulk, test_setup),
        cmocka_unit_test_setup(test_short_writes_keep_piece_edges, test_setup),
        cmocka_unit_test_setup(test_writev_short_and_eintr, test_setup),
        cmocka_unit_test_setup(test_writev_errors, test_setup),
        cmocka_unit_test_setup(test_writev_poisoned, test_setup),
        cmocka_unit_test_setup(test_prealloc_ahead_of_size, test_setup),
        cmocka_unit_test_setup(test_prealloc_cap, test_setup),
        cmocka_unit_test_setup(test_prealloc_disabled, test_setup),
        cmocka_unit_test_setup(test_prealloc_failures_tolerated, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
