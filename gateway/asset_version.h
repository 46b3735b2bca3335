/*
 * asset_version.h — the web app's version: a short hash of every file under
 * STATIC_DIR, so index.html can name its assets by version
 * (/app/v-<hash>/js/main.js, routes_static.c) and they can be cached for a
 * year: a deploy changes the hash, and a browser never mixes old and new
 * modules.
 */
#ifndef GW_ASSET_VERSION_H
#define GW_ASSET_VERSION_H

#include <stdbool.h>
#include <time.h>

#define GW_ASSET_VERSION_LEN 16 /* hex digits */

struct gw_asset_version {
    char hex[GW_ASSET_VERSION_LEN + 1];
    time_t newest; /* the newest modification time of the files hashed */
};

/* The version of the files under `dir` (regular files at most 4 levels
 * deep, hidden names and symbolic links left out). Recomputed only when a
 * file's name, size or modification time changed since the last call, so an
 * edited file shows at once (static_files.h) at the cost of a stat per file.
 * Thread-safe. 0, TD_ENOTFOUND (no such directory) or TD_ENOMEM; *out is
 * written only on success. */
int gw_asset_version_get(const char *dir, struct gw_asset_version *out);

/* True when `s` is exactly GW_ASSET_VERSION_LEN lower-case hex digits. */
bool gw_asset_version_syntax_ok(const char *s, size_t len);

#endif
