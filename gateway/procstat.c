/*
 * procstat.c — /proc/self figures for the process_* series (procstat.h).
 *
 * /proc/self/stat is one line: "pid (comm) state ppid ...". The command name
 * may itself hold spaces and parentheses, so the fields are counted from the
 * last ')' on; field numbers below are those of proc(5).
 */
#include "procstat.h"
#include "td_error.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* proc(5) field numbers of /proc/self/stat used here. */
#define F_UTIME 14
#define F_STIME 15
#define F_STARTTIME 22
#define F_VSIZE 23
#define F_RSS 24

/* Reads a small procfs file whole into buf (NUL-terminated). 0 or TD_EINTERNAL. */
static int read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return TD_EINTERNAL;
    size_t n = fread(buf, 1, size - 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n == 0)
        return TD_EINTERNAL;
    buf[n] = '\0';
    return 0;
}

/* Fields F_UTIME..F_RSS of /proc/self/stat, as unsigned numbers, indexed by
 * field number. 0 or TD_EINTERNAL. */
static int stat_fields(unsigned long long fields[F_RSS + 1])
{
    char buf[1024];
    if (read_file("/proc/self/stat", buf, sizeof buf) != 0)
        return TD_EINTERNAL;
    const char *p = strrchr(buf, ')');
    if (p == NULL)
        return TD_EINTERNAL;
    p++;
    /* After ')' comes field 3 (state, a letter), then numbers. */
    for (int field = 3; field <= F_RSS; field++) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return TD_EINTERNAL;
        if (field == 3) {
            p++;
            continue;
        }
        errno = 0;
        char *end;
        /* Some fields are signed (priority, nice); none used here is. */
        long long v = strtoll(p, &end, 10);
        if (end == p || errno != 0)
            return TD_EINTERNAL;
        fields[field] = (unsigned long long)v;
        p = end;
    }
    return 0;
}

static int64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n > 0 ? n - 1 : 0; /* the directory stream's own descriptor is not the process's */
}

int gw_procstat_read(struct gw_procstat *out)
{
    unsigned long long f[F_RSS + 1] = {0};
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    if (ticks <= 0 || page <= 0 || stat_fields(f) != 0)
        return TD_EINTERNAL;
    int64_t fds = count_fds();
    if (fds < 0)
        return TD_EINTERNAL;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return TD_EINTERNAL;
    out->cpu_seconds = (double)(f[F_UTIME] + f[F_STIME]) / (double)ticks;
    out->rss_bytes = (uint64_t)f[F_RSS] * (uint64_t)page;
    out->vsize_bytes = (uint64_t)f[F_VSIZE];
    out->open_fds = fds;
    out->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
    return 0;
}

int gw_procstat_start_time(double *out)
{
    unsigned long long f[F_RSS + 1] = {0};
    long ticks = sysconf(_SC_CLK_TCK);
    if (ticks <= 0 || stat_fields(f) != 0)
        return TD_EINTERNAL;
    /* /proc/stat is a few KiB on a small host (one line per CPU): read it
     * in pieces until the "btime" line. */
    FILE *fp = fopen("/proc/stat", "r");
    if (fp == NULL)
        return TD_EINTERNAL;
    char line[512];
    unsigned long long btime = 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, fp) != NULL)
        found = sscanf(line, "btime %llu", &btime) == 1;
    fclose(fp);
    if (!found)
        return TD_EINTERNAL;
    *out = (double)btime + (double)f[F_STARTTIME] / (double)ticks;
    return 0;
}
