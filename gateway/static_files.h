/*
 * static_files.h — serving files from disk: the Swagger UI page under /docs
 * (routes_system.c) and the web app under / and /app/ (routes_static.c).
 *
 * Files are read whole per request (they sit in the page cache after the
 * first) so an edited file is served at once. Callers decide which path is
 * allowed; gw_static_name_ok() is the strict check for a relative name taken
 * from a raw URL.
 */
#ifndef GW_STATIC_FILES_H
#define GW_STATIC_FILES_H

#include "app.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* How a response may be cached: Cache-Control, the ETag's opaque part
 * (quoted by the sender, "-gz" appended for the gzip variant) and the
 * Last-Modified time. */
struct gw_static_cache {
    const char *control;
    char tag[120];
    time_t mtime;
};

/* The Content-Type for a file name by its extension, NULL when unknown. */
const char *gw_static_type(const char *name);

/* True when `name` (a raw, undecoded relative path such as "js/api.js") is
 * at most `max_depth` segments of [A-Za-z0-9._-], each starting with a letter
 * or digit: no "..", no hidden files, no '%' escapes, no backslashes, no
 * empty segments, nothing over 255 bytes. */
bool gw_static_name_ok(const char *name, int max_depth);

/* Reads the regular file at `path` (opened with O_NOFOLLOW, at most 8 MiB)
 * into a malloc'd, NUL-terminated *body the caller frees, its length in *len
 * and, when `st` is not NULL, its stat in *st. 0, TD_ENOTFOUND or TD_ENOMEM;
 * the out-params are written only on success. */
int gw_static_read(const char *path, char **body, size_t *len, struct stat *st);

/* Sends `len` bytes of `body` as `content_type`. Text types (text/..., JSON,
 * SVG) of 256 bytes or more go out gzip-compressed when Accept-Encoding
 * allows it, always with "Vary: Accept-Encoding". With `cache` NULL nothing
 * about caching is sent; otherwise its Cache-Control, ETag and Last-Modified
 * are, and a matching If-None-Match (or, without one, If-Modified-Since)
 * gets a 304. Returns the status sent. */
int gw_send_body(struct gw_request *req, const char *body, size_t len, const char *content_type,
                 const struct gw_static_cache *cache);

/* Sends the regular file at `path` (gw_static_read) as `content_type` with
 * gw_send_body; 404 when it is missing or not a regular file. With
 * `cache_control` NULL nothing about caching is sent; otherwise the ETag is
 * made of the file's size and modification time. */
int gw_send_file(struct gw_request *req, const char *path, const char *content_type,
                 const char *cache_control);

#endif
