/*
 * td_tempdir.h — the temporary directory a unit test keeps its real SQLite
 * files in, and its removal (header-only, like td_assert.h). Every store
 * test used to carry its own nftw callback.
 */
#ifndef TD_TEST_TEMPDIR_H
#define TD_TEST_TEMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int td_tempdir_remove_one_(const char *path, const struct stat *sb, int flag,
                                         struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes `dir` and everything below it. 0, or -1 when something stayed. */
static inline int td_tempdir_remove(const char *dir)
{
    return nftw(dir, td_tempdir_remove_one_, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
