/*
 * static_files.c — reading a file from disk and sending it with its content
 * type, gzip-compressed for text when the client accepts it, and, when
 * asked, cache validators (see static_files.h).
 */
/* timegm and strptime need _GNU_SOURCE, which the build defines. */
#include "static_files.h"
#include "td_error.h"
#include "td_log.h"

#include <ctype.h>
#include <stdint.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_STATIC_FILE (8 * 1024 * 1024)
/* Below this a gzip header and trailer (18 bytes) eat most of the gain. */
#define GZIP_MIN_BYTES 256

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

/* True for the types worth compressing: text, scripts, JSON, SVG. */
static bool compressible(const char *type)
{
    return type != NULL && (strncmp(type, "text/", 5) == 0 || strstr(type, "json") != NULL ||
                            strncmp(type, "image/svg+xml", 13) == 0);
}

/* True when Accept-Encoding lists gzip without q=0 (RFC 9110 §12.5.3). */
static bool accepts_gzip(const char *ae)
{
    if (ae == NULL)
        return false;
    const char *p = ae;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *name = p;
        while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - name);
        const char *params = p;
        while (*p != '\0' && *p != ',')
            p++;
        if (n == 4 && strncasecmp(name, "gzip", 4) == 0) {
            const char *q = strstr(params, "q=");
            return q == NULL || q >= p || strtod(q + 2, NULL) > 0.0;
        }
    }
    return false;
}

/* gzip-compresses `len` bytes of `in` into a malloc'd buffer; 0 or TD_ENOMEM. */
static int gzip_new(const char *in, size_t len, char **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: a gzip wrapper, which every browser accepts as
     * Content-Encoding: gzip (a raw zlib stream is "deflate", long ambiguous). */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return TD_ENOMEM;
    uLong cap = deflateBound(&zs, (uLong)len);
    char *buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&zs);
        return TD_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    int zrc = deflate(&zs, Z_FINISH);
    size_t produced = (size_t)zs.total_out;
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END) {
        free(buf);
        return TD_ENOMEM;
    }
    *out = buf;
    *out_len = produced;
    return 0;
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

int gw_static_read(const char *path, char **body, size_t *len, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_STATIC_FILE) {
        if (fd >= 0)
            close(fd);
        TD_LOG(TD_LOG_WARN, "static_missing", "cannot serve %s", path);
        return TD_ENOTFOUND;
    }
    char *buf = NULL;
    int rc = read_all(fd, (size_t)sb.st_size, &buf);
    close(fd);
    if (rc != 0)
        return rc;
    *body = buf;
    *len = (size_t)sb.st_size;
    if (st != NULL)
        *st = sb;
    return 0;
}

int gw_send_body(struct gw_request *req, const char *body, size_t len, const char *content_type,
                 const struct gw_static_cache *cache)
{
    bool gzip = compressible(content_type) && len >= GZIP_MIN_BYTES &&
                accepts_gzip(gw_header(req, "Accept-Encoding"));
    if (compressible(content_type))
        gw_add_header(req, "Vary", "Accept-Encoding");
    if (cache != NULL) {
        /* Each encoding is its own representation with its own ETag
         * (RFC 9110 §8.8.3), so a cache never answers one with the other. */
        char etag[160], date[64];
        snprintf(etag, sizeof etag, "\"%s%s\"", cache->tag, gzip ? "-gz" : "");
        struct tm tm;
        gmtime_r(&cache->mtime, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        gw_add_header(req, "Cache-Control", "%s", cache->control);
        gw_add_header(req, "ETag", "%s", etag);
        gw_add_header(req, "Last-Modified", "%s", date);
        if (not_modified(req, etag, cache->mtime))
            return gw_respond_raw(req, 304, NULL, NULL, 0);
    }
    if (!gzip)
        return gw_respond_raw(req, 200, content_type, body, len);
    char *packed = NULL;
    size_t packed_len = 0;
    if (gzip_new(body, len, &packed, &packed_len) != 0)
        return gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    gw_add_header(req, "Content-Encoding", "gzip");
    int rc = gw_respond_raw(req, 200, content_type, packed, packed_len);
    free(packed);
    return rc;
}

int gw_send_file(struct gw_request *req, const char *path, const char *content_type,
                 const char *cache_control)
{
    char *body = NULL;
    size_t len = 0;
    struct stat st;
    int rc = gw_static_read(path, &body, &len, &st);
    if (rc != 0)
        return gw_respond_error(req, rc, NULL, NULL);
    struct gw_static_cache cache = {.control = cache_control, .mtime = st.st_mtim.tv_sec};
    snprintf(cache.tag, sizeof cache.tag, "%llx-%llx-%llx", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (unsigned long long)st.st_mtim.tv_nsec);
    rc = gw_send_body(req, body, len, content_type, cache_control != NULL ? &cache : NULL);
    free(body);
    return rc;
}
