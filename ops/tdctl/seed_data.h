/*
 * seed_data.h — the demo accounts and entries `tdctl seed` creates.
 *
 * The credentials are documented in README.md ("Demo data"); they are for
 * development and demos only, and tdctl refuses to seed under
 * APP_ENV=production.
 */
#ifndef TDCTL_SEED_DATA_H
#define TDCTL_SEED_DATA_H

#include <stddef.h>

struct seed_user {
    const char *email;
    const char *password;
};

struct seed_entry {
    int user;      /* index into seed_users */
    int days_ago;  /* created this many days before the seed ran */
    int minutes;   /* and at this minute of that day (UTC) */
    const char *content;
};

extern const struct seed_user seed_users[];
extern const size_t seed_nusers;
extern const struct seed_entry seed_entries[];
extern const size_t seed_nentries;

#endif
