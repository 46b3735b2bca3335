/*
 * static_files.c — reading a file from disk and sending it with its content
 * type and, when asked, cache validators (see static_files.h).
 */
/* timegm and strptime need _GNU_SOURCE, which the build defines. */
#include "static_files.h"
#include "td_error.h"
#include "td_log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_STATIC_FILE (8 * 1024 * 1024)

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *gw_static_type(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t el = strlen(types[i].ext);
        if (n > el && strcmp(name + n - el, types[i].ext) == 0)
            return types[i].type;
    }
    return NULL;
}

bool gw_static_name_ok(const char *name, int max_depth)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return false;
    int depth = 1;
    bool segment_start = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (segment_start && !isalnum(c))
            return false; /* "", ".", "..", ".hidden", "-x" */
        segment_start = false;
        if (c == '/') {
            if (++depth > max_depth)
                return false;
            segment_start = true;
        } else if (!(isalnum(c) || c == '.' || c == '-' || c == '_')) {
            return false; /* '%', '\\', spaces, controls, non-ASCII */
        }
    }
    return !segment_start; /* no trailing '/' */
}

/* Reads `size` bytes of fd into a malloc'd, NUL-terminated buffer. */
static int read_all(int fd, size_t size, char **out)
{
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return TD_ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != size) {
        free(buf);
        return TD_ENOTFOUND;
    }
    buf[size] = '\0';
    *out = buf;
    return 0;
}

/* True when the request's validators say the client's copy is current. */
static bool not_modified(const struct gw_request *req, const char *etag, time_t mtime)
{
    const char *inm = gw_header(req, "If-None-Match");
    if (inm != NULL) /* RFC 9110 §13.1.2: weak comparison; If-Modified-Since is then ignored */
        return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
    const char *ims = gw_header(req, "If-Modified-Since");
    if (ims == NULL)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return end != NULL && *end == '\0' && mtime <= timegm(&tm);
}

int gw_send_file(struct gw_request *req, const char *path, const char *content_type,
                 const char *cache_control)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_STATIC_FILE) {
        if (fd >= 0)
            close(fd);
        TD_LOG(TD_LOG_WARN, "static_missing", "cannot serve %s", path);
        return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
    }
    if (cache_control != NULL) {
        char etag[96], date[64];
        snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", (unsigned long long)st.st_size,
                 (unsigned long long)st.st_mtim.tv_sec, (unsigned long long)st.st_mtim.tv_nsec);
        struct tm tm;
        gmtime_r(&st.st_mtim.tv_sec, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        gw_add_header(req, "Cache-Control", "%s", cache_control);
        gw_add_header(req, "ETag", "%s", etag);
        gw_add_header(req, "Last-Modified", "%s", date);
        if (not_modified(req, etag, st.st_mtim.tv_sec)) {
            close(fd);
            return gw_respond_raw(req, 304, NULL, NULL, 0);
        }
    }
    char *body = NULL;
    int rc = read_all(fd, (size_t)st.st_size, &body);
    close(fd);
    if (rc != 0)
        return gw_respond_error(req, rc, NULL, NULL);
    rc = gw_respond_raw(req, 200, content_type, body, (size_t)st.st_size);
    free(body);
    return rc;
}
