/*
 * cmd_copy.c - copy [--compact] SRC DST: a consistent copy of SRC's last
 * commit into a new file DST through ct_copy (every page verified on the
 * way). DST must not exist; a copy that fails is removed, so DST either
 * is a whole database or is absent. SRC is opened read-only: a process
 * holding it read-write makes the copy fail with CT_BUSY.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowtree/filestore.h"
#include "tool.h"

static const struct option copy_opts[] = {
    {"compact", no_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int copy_help(void)
{
    printf("usage: cowtree copy [--compact] SRC DST\n"
           "Copies the last commit of SRC into the new file DST (every page verified).\n"
           "DST must not exist; on failure it is removed.\n"
           "  -c, --compact  only live pages, renumbered densely, no free list\n"
           "  -h, --help     this help\n");
    return TOOL_EXIT_OK;
}

static void print_path(const char *path)
{
    tool_print_escaped(stderr, path, strlen(path));
}

/* Creates dst, which must not exist (O_EXCL: a file another process
   makes between the check and the create is never taken over), and
   notes its identity in *made. Returns 0, or -1 with errno set. */
static int create_new(const char *dst, struct stat *made)
{
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    int rc = fstat(fd, made);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Removes dst if it is still the file create_new made (never a file
   another process put at that name since). */
static void remove_made(const char *dst, const struct stat *made)
{
    struct stat now;
    if (lstat(dst, &now) == 0 && now.st_dev == made->st_dev && now.st_ino == made->st_ino) {
        unlink(dst);
    }
}

/* Copies db into dst, the empty file create_new made. Returns a CT_*
   code; *what says which step failed. */
static int copy_into(ct_db *db, const char *dst, uint32_t page_size, unsigned flags,
                     uint64_t *pages, const char **what)
{
    ct_filestore_options fo;
    ct_filestore_options_init(&fo);
    fo.page_size = page_size;
    fo.flags = CT_FS_NOCREATE;
    ct_pagestore *ps = NULL;
    *what = "cannot open the new file";
    int rc = ct_filestore_open(dst, &fo, &ps);
    if (rc != CT_OK) {
        return rc;
    }
    *what = "copy";
    rc = ct_copy(db, ps, flags);
    if (rc == CT_OK) {
        rc = ps->ops->size(ps, pages);
    }
    ps->ops->close(ps);
    return rc;
}

int cmd_copy(int argc, char **argv)
{
    unsigned flags = 0;
    optind = 0;
    opterr = 0;
    for (;;) {
        int li = -1;
        int c = getopt_long(argc, argv, ":ch", copy_opts, &li);
        if (c == -1) {
            break;
        }
        if (c == 'h') {
            return copy_help();
        }
        if (c != 'c') {
            return tool_usage_error("copy", "unknown option %s",
                                    tool_option_word(argv, c, copy_opts, li));
        }
        flags |= CT_COPY_COMPACT;
    }
    if (argc - optind != 2) {
        return tool_usage_error("copy", "wants SRC DST");
    }
    const char *src = argv[optind];
    const char *dst = argv[optind + 1];
    struct stat st;
    int exists = lstat(dst, &st) == 0;
    if (exists || errno != ENOENT) {
        fprintf(stderr, "cowtree copy: ");
        print_path(dst);
        fprintf(stderr, ": %s: not overwritten (the copy must be a new file)\n",
                exists ? "exists" : strerror(errno));
        return TOOL_EXIT_ERROR;
    }
    ct_db *db = NULL;
    int code = tool_open("copy", src, TOOL_OPEN_READ, 0, &db);
    if (code != TOOL_EXIT_OK) {
        return code;
    }
    struct stat made;
    if (create_new(dst, &made) != 0) {
        fprintf(stderr, "cowtree copy: ");
        print_path(dst);
        fprintf(stderr, ": cannot create: %s%s\n", strerror(errno),
                errno == EEXIST ? " (not overwritten: the copy must be a new file)" : "");
        ct_close(db);
        return TOOL_EXIT_ERROR;
    }
    struct ct_stat info;
    ct_stat(db, &info);
    int progress = tool_progress_enabled();
    if (progress) {
        fprintf(stderr, "copying %" PRIu64 " pages...", info.pages_in_use);
        fflush(stderr);
    }
    uint64_t pages = 0;
    const char *what = NULL;
    int rc = copy_into(db, dst, info.page_size, flags, &pages, &what);
    if (progress) {
        fprintf(stderr, "\r\033[K");
    }
    if (rc == CT_OK) {
        printf("copied txn %" PRIu64 " of ", info.txnid);
        tool_print_escaped(stdout, src, strlen(src));
        printf(" (%" PRIu64 " pages) to ", info.pages_total);
        tool_print_escaped(stdout, dst, strlen(dst));
        printf(" (%" PRIu64 " pages%s)\n", pages, flags ? ", compacted" : "");
    } else {
        remove_made(dst, &made); /* never leave a partial copy behind */
        code = tool_fail("copy", rc == CT_CORRUPT ? src : dst, what, rc);
        code = rc == CT_CORRUPT ? code : TOOL_EXIT_ERROR; /* DST's trouble: not found is no answer */
    }
    ct_close(db);
    return code;
}
