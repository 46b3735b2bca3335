/*
 * procstat.h — the gateway process's own resource figures, read from
 * /proc/self for the standard process_* series of /metrics (the names and
 * meanings Prometheus' client libraries use, so existing dashboards and
 * alerts work unchanged).
 *
 * Linux only, like the rest of the deployment (Debian 12): every figure
 * comes from procfs, nothing is sampled in the background, and a scrape
 * pays a few small file reads.
 */
#ifndef GW_PROCSTAT_H
#define GW_PROCSTAT_H

#include <stdint.h>

struct gw_procstat {
    double cpu_seconds;   /* user + system CPU time since the process started */
    uint64_t rss_bytes;   /* resident set size */
    uint64_t vsize_bytes; /* virtual memory size */
    int64_t open_fds;     /* open file descriptors */
    int64_t max_fds;      /* the soft RLIMIT_NOFILE */
};

/* Reads the figures that change (CPU, memory, descriptors) of the calling
 * process. Returns 0 and fills *out, or TD_EINTERNAL (procfs unreadable or
 * malformed) with *out untouched. */
int gw_procstat_read(struct gw_procstat *out);

/* The process's start time in seconds since the Unix epoch (boot time from
 * /proc/stat plus the start tick of /proc/self/stat). 0 and *out, or
 * TD_EINTERNAL. It never changes, so callers read it once. */
int gw_procstat_start_time(double *out);

#endif
