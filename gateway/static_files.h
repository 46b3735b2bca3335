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

/* The Content-Type for a file name by its extension, NULL when unknown. */
const char *gw_static_type(const char *name);

/* True when `name` (a raw, undecoded relative path such as "js/api.js") is
 * at most `max_depth` segments of [A-Za-z0-9._-], each starting with a letter
 * or digit: no "..", no hidden files, no '%' escapes, no backslashes, no
 * empty segments, nothing over 255 bytes. */
bool gw_static_name_ok(const char *name, int max_depth);

/* Sends the regular file at `path` (opened with O_NOFOLLOW) as
 * `content_type`; 404 when it is missing or not a regular file.
 * With `cache_control` NULL nothing about caching is sent. Otherwise that
 * Cache-Control goes out with an ETag and a Last-Modified, and a matching
 * If-None-Match (or, without one, If-Modified-Since) gets a 304. */
int gw_send_file(struct gw_request *req, const char *path, const char *content_type,
                 const char *cache_control);

#endif
