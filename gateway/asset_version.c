/*
 * asset_version.c — hashing the web app's files into its version, cached
 * behind a cheap check of names, sizes and times (see asset_version.h).
 *
 * The hash is libsodium's BLAKE2b (crypto_generichash), cut to 64 bits:
 * it only has to change when a file does; nobody gains by forging one.
 */
#include "asset_version.h"
#include "static_files.h"
#include "td_error.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES 512
#define MAX_DEPTH 4

struct file_meta {
    char path[256]; /* relative to the directory */
    long long size;
    long long mtime_ns;
};

struct walk {
    struct file_meta *files;
    size_t n;
    int rc;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char cache_dir[4096];
static uint64_t cache_meta;
static struct gw_asset_version cache_version;
static bool cache_valid;

/* Adds bytes to a BLAKE2b state: 0, or TD_EINTERNAL if libsodium refused. */
static int feed(crypto_generichash_state *st, const void *data, size_t len)
{
    return crypto_generichash_update(st, data, len) == 0 ? 0 : TD_EINTERNAL;
}

/* 64 bits of the state's digest into *h: 0 or TD_EINTERNAL. */
static int digest64(crypto_generichash_state *st, uint64_t *h)
{
    unsigned char out[sizeof *h];
    if (crypto_generichash_final(st, out, sizeof out) != 0)
        return TD_EINTERNAL;
    memcpy(h, out, sizeof *h);
    return 0;
}

/* Appends the regular files under dir/rel to w (depth-first). */
static void walk_dir(const char *dir, const char *rel, int depth, struct walk *w)
{
    char path[4400];
    snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (d == NULL) {
        if (depth == 0)
            w->rc = TD_ENOTFOUND;
        return;
    }
    struct dirent *e;
    while (w->rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", hidden files: never served either */
        char sub[256];
        int n = snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n >= sizeof sub)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth + 1 < MAX_DEPTH) {
            walk_dir(dir, sub, depth + 1, w);
        } else if (S_ISREG(st.st_mode) && w->n < MAX_FILES) {
            struct file_meta *f = &w->files[w->n++];
            memcpy(f->path, sub, (size_t)n + 1);
            f->size = (long long)st.st_size;
            f->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        }
    }
    closedir(d);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct file_meta *)a)->path, ((const struct file_meta *)b)->path);
}

bool gw_asset_version_syntax_ok(const char *s, size_t len)
{
    if (len != GW_ASSET_VERSION_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int gw_asset_version_get(const char *dir, struct gw_asset_version *out)
{
    struct walk w = {.files = calloc(MAX_FILES, sizeof(struct file_meta))};
    if (w.files == NULL)
        return TD_ENOMEM;
    walk_dir(dir, "", 0, &w);
    if (w.rc != 0) {
        free(w.files);
        return w.rc;
    }
    qsort(w.files, w.n, sizeof w.files[0], by_path);
    crypto_generichash_state st;
    int rc = crypto_generichash_init(&st, NULL, 0, sizeof(uint64_t)) == 0 ? 0 : TD_EINTERNAL;
    long long newest_ns = 0;
    for (size_t i = 0; i < w.n && rc == 0; i++) {
        rc = feed(&st, w.files[i].path, strlen(w.files[i].path) + 1);
        rc = rc ? rc : feed(&st, &w.files[i].size, sizeof w.files[i].size);
        rc = rc ? rc : feed(&st, &w.files[i].mtime_ns, sizeof w.files[i].mtime_ns);
        if (w.files[i].mtime_ns > newest_ns)
            newest_ns = w.files[i].mtime_ns;
    }
    uint64_t meta = 0;
    rc = rc ? rc : digest64(&st, &meta);
    if (rc != 0) {
        free(w.files);
        return rc;
    }

    pthread_mutex_lock(&cache_lock);
    if (cache_valid && cache_meta == meta && strcmp(cache_dir, dir) == 0) {
        *out = cache_version;
        pthread_mutex_unlock(&cache_lock);
        free(w.files);
        return 0;
    }
    pthread_mutex_unlock(&cache_lock);

    /* Contents, not times, make the version: two machines serving the same
     * release name its assets alike. */
    rc = crypto_generichash_init(&st, NULL, 0, sizeof(uint64_t)) == 0 ? 0 : TD_EINTERNAL;
    for (size_t i = 0; i < w.n && rc == 0; i++) {
        char path[4400], *body = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", dir, w.files[i].path);
        rc = gw_static_read(path, &body, &len, NULL);
        if (rc == TD_ENOTFOUND) {
            rc = 0; /* removed or too large since the walk: left out */
            continue;
        }
        if (rc != 0)
            break;
        rc = feed(&st, w.files[i].path, strlen(w.files[i].path) + 1);
        rc = rc ? rc : feed(&st, body, len);
        free(body);
    }
    free(w.files);
    if (rc != 0)
        return rc;

    uint64_t h = 0;
    rc = digest64(&st, &h);
    if (rc != 0)
        return rc;
    struct gw_asset_version v;
    snprintf(v.hex, sizeof v.hex, "%016llx", (unsigned long long)h);
    v.newest = (time_t)(newest_ns / 1000000000LL);
    pthread_mutex_lock(&cache_lock);
    snprintf(cache_dir, sizeof cache_dir, "%s", dir);
    cache_meta = meta;
    cache_version = v;
    cache_valid = true;
    pthread_mutex_unlock(&cache_lock);
    *out = v;
    return 0;
}
