/*
 * test_fs_open.c - what ct_filestore_open makes of paths that name no
 * regular file, of a file another store changes while this one waits
 * for the lock, of an open a signal interrupts (this executable's open()
 * fails with EINTR on demand) and of a file under a lease. The lock race
 * is staged by this executable's own flock(), which the library's call
 * reaches (an executable's definition comes before libc's) and which runs
 * a hook first: the hook changes the file's length at the moment a
 * competing store could, between open and lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cowtree.h"
#include "cowtree/filestore.h"

#ifndef COWTREE_TEST_TMPDIR
#define COWTREE_TEST_TMPDIR "/tmp"
#endif

#define PS 4096u

/* ---- flock with a hook --------------------------------------------------- */

static void (*before_flock)(void); /* run once, by the next flock */
static int flock_calls;

int flock(int fd, int operation)
{
    flock_calls++;
    void (*hook)(void) = before_flock;
    before_flock = NULL;
    if (hook) {
        hook();
    }
    return (int)syscall(SYS_flock, fd, operation);
}

/* ---- open with injected EINTRs ------------------------------------------- */

static int open_eintrs; /* the next this many opens fail with EINTR */
static int open_calls;

int open(const char *file, int oflag, ...)
{
    open_calls++;
    if (open_eintrs > 0) {
        open_eintrs--;
        errno = EINTR;
        return -1;
    }
    mode_t mode = 0;
    if (oflag & O_CREAT) {
        va_list ap;
        va_start(ap, oflag);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return (int)syscall(SYS_openat, AT_FDCWD, file, oflag, mode);
}

/* ---- Helpers ------------------------------------------------------------- */

static char path[512];

static void new_path(const char *what)
{
    snprintf(path, sizeof path, "%s/fs-open-%s-%ld", COWTREE_TEST_TMPDIR, what, (long)getpid());
    (void)unlink(path);
}

static int open_with(unsigned flags, ct_pagestore **ps)
{
    ct_filestore_options o;
    ct_filestore_options_init(&o);
    o.page_size = PS;
    o.flags = flags;
    *ps = NULL;
    return ct_filestore_open(path, &o, ps);
}

static int test_setup(void **state)
{
    (void)state;
    before_flock = NULL;
    flock_calls = 0;
    open_eintrs = 0;
    open_calls = 0;
    alarm(60); /* an open that waits for a FIFO's writer fails, not hangs */
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    alarm(0);
    (void)unlink(path);
    return 0;
}

/* ---- Interrupted and refused opens ------------------------------------------ */

/* An open a signal interrupts is retried: creating, and opening an existing
   file read-only. */
static void test_open_retried_on_eintr(void **state)
{
    (void)state;
    new_path("eintr");
    ct_pagestore *ps = NULL;
    open_eintrs = 3;
    assert_int_equal(open_with(0, &ps), CT_OK);
    assert_int_equal(open_eintrs, 0);
    assert_true(open_calls >= 4);
    unsigned char page[PS];
    memset(page, 5, sizeof page);
    assert_int_equal(ps->ops->write(ps, 0, 1, page), CT_OK);
    ps->ops->close(ps);
    open_eintrs = 2;
    assert_int_equal(open_with(CT_FS_RDONLY, &ps), CT_OK);
    unsigned char back[PS];
    assert_int_equal(ps->ops->read(ps, 0, 1, back), CT_OK);
    assert_memory_equal(back, page, PS);
    ps->ops->close(ps);
}

/* A lease another opener holds would make open wait for its break (our
   open does not wait): CT_BUSY, like the lock, not CT_IO. The lease here
   is this process's own, its break signal (SIGIO) ignored. */
static void test_lease_is_busy(void **state)
{
    (void)state;
    new_path("lease");
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    void (*old)(int) = signal(SIGIO, SIG_IGN);
    if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0) {
        fail_msg("F_SETLEASE: %s", strerror(errno));
    }
    ct_pagestore *ps = NULL;
    assert_int_equal(open_with(0, &ps), CT_BUSY);
    assert_null(ps);
    assert_int_equal(fcntl(fd, F_SETLEASE, F_UNLCK), 0);
    close(fd);
    signal(SIGIO, old);
    assert_int_equal(open_with(0, &ps), CT_OK);
    ps->ops->close(ps);
}

/* ---- Paths that name no regular file -------------------------------------- */

/* A FIFO is CT_INVALID at once, read-only or not; read-only used to wait
   for a writer to open the other end. */
static void test_fifo_is_invalid(void **state)
{
    (void)state;
    new_path("fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    ct_pagestore *ps = NULL;
    assert_int_equal(open_with(CT_FS_RDONLY, &ps), CT_INVALID);
    assert_null(ps);
    assert_int_equal(open_with(0, &ps), CT_INVALID);
    assert_null(ps);
    ct_db *db = NULL;
    ct_options o;
    ct_options_init(&o);
    o.flags = CT_RDONLY;
    assert_int_equal(ct_open_path(path, &o, &db), CT_INVALID);
    assert_null(db);
}

/* A UNIX socket's name cannot be opened (ENXIO): CT_INVALID. */
static void test_socket_is_invalid(void **state)
{
    (void)state;
    new_path("sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) {
        close(s);
        skip(); /* the build directory's path is too long for a socket */
    }
    strcpy(a.sun_path, path);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ct_pagestore *ps = NULL;
    assert_int_equal(open_with(0, &ps), CT_INVALID);
    assert_null(ps);
    assert_int_equal(open_with(CT_FS_RDONLY, &ps), CT_INVALID);
    close(s);
}

/* ---- The length is read under the lock ------------------------------------ */

static void grow_to_12_pages(void)
{
    assert_int_equal(truncate(path, 12 * (off_t)PS), 0);
}

static void shrink_to_1_page(void)
{
    assert_int_equal(truncate(path, 1 * (off_t)PS), 0);
}

static void make_file_of(uint64_t pages)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(pages * PS)), 0);
    close(fd);
}

/* Another store grew the file after our open and before our lock: size()
   must count its pages (recovery rejects a meta whose high-water mark lies
   past size(), so a stale length would throw a durable commit away). */
static void test_length_read_after_lock_grown(void **state)
{
    (void)state;
    new_path("grown");
    make_file_of(4);
    before_flock = grow_to_12_pages;
    ct_pagestore *ps = NULL;
    assert_int_equal(open_with(0, &ps), CT_OK);
    assert_true(flock_calls >= 1);
    uint64_t n = 0;
    assert_int_equal(ps->ops->size(ps, &n), CT_OK);
    assert_int_equal(n, 12);
    assert_non_null(ps->ops->map(ps, 11));
    ps->ops->close(ps);
}

/* ... or shrank it: map() must not hand out a page past the new end (a
   touch would raise SIGBUS), and read() must refuse it. */
static void test_length_read_after_lock_shrunk(void **state)
{
    (void)state;
    new_path("shrunk");
    make_file_of(4);
    before_flock = shrink_to_1_page;
    ct_pagestore *ps = NULL;
    assert_int_equal(open_with(CT_FS_RDONLY, &ps), CT_OK);
    uint64_t n = 0;
    assert_int_equal(ps->ops->size(ps, &n), CT_OK);
    assert_int_equal(n, 1);
    assert_null(ps->ops->map(ps, 3));
    unsigned char buf[PS];
    assert_int_equal(ps->ops->read(ps, 3, 1, buf), CT_INVALID);
    ps->ops->close(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_retried_on_eintr, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_lease_is_busy, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_fifo_is_invalid, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_socket_is_invalid, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_length_read_after_lock_grown, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_length_read_after_lock_shrunk, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
