/*
 * prom_text.h — a strict reader of the Prometheus text exposition format
 * (version 0.0.4), for tests of /metrics: the unit test of metrics.c and the
 * integration test against a real gateway include it (header-only, so a
 * unit test needs no harness library).
 *
 * It fails what a real Prometheus would refuse or silently drop:
 * - a malformed line: a sample that is not `name{label="value",...} value
 *   [timestamp]`, a bad metric or label name, an unknown escape, a value that
 *   is not a float, a label repeated in one sample, a text that does not end
 *   in a newline;
 * - HELP or TYPE given twice for a name, TYPE after the family's first
 *   sample, an unknown type, a family whose samples are not contiguous;
 * - a repeated series (same name and label set, in any label order): the
 *   server keeps one of them and the other's data is lost;
 * - for histograms: a _bucket without `le`, buckets that decrease, a
 *   missing +Inf bucket, or a +Inf bucket unequal to _count.
 *
 * th_prom_check returns the number of problems and describes the first one.
 */
#ifndef TD_PROM_TEXT_H
#define TD_PROM_TEXT_H

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TH_PROM_MAX_LABELS 16
#define TH_PROM_NAME_MAX 200
#define TH_PROM_VALUE_MAX 512

struct th_prom_label {
    char name[TH_PROM_NAME_MAX];
    char value[TH_PROM_VALUE_MAX];
};

struct th_prom_sample {
    char name[TH_PROM_NAME_MAX];
    struct th_prom_label labels[TH_PROM_MAX_LABELS];
    int nlabels;
    double value;
};

/* What the checker remembers: every series key seen, every family named. */
struct th_prom_state {
    char **keys;
    size_t nkeys, cap;
    char **families;  /* family names whose samples have been seen, in order */
    int *family_type; /* index into th_prom_types, -1 untyped */
    bool *family_help;
    bool *family_closed; /* another family's samples came after this one's */
    size_t nfamilies, fcap;
    int problems;
    char *err;
    size_t errlen;
    int line;
};

static const char *const th_prom_types[] = {"counter", "gauge", "histogram", "summary", "untyped"};

__attribute__((format(printf, 2, 3), unused)) static void th_prom_fail(struct th_prom_state *st,
                                                                       const char *fmt, ...)
{
    if (st->problems++ == 0 && st->err != NULL && st->errlen > 0) {
        int n = snprintf(st->err, st->errlen, "line %d: ", st->line);
        if (n >= 0 && (size_t)n < st->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
}

static __attribute__((unused)) bool th_prom_metric_name_ok(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    }
    return true;
}

static __attribute__((unused)) bool th_prom_label_name_ok(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    }
    return true;
}

/* A float as the format writes it: Go's ParseFloat syntax, plus Inf/NaN. */
static __attribute__((unused)) bool th_prom_parse_value(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "Inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(buf, "-Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(isdigit((unsigned char)buf[i]) || strchr("+-.eE", buf[i])))
            return false;
    }
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0';
}

/* Parses one sample line; false (with a problem recorded) when malformed. */
static __attribute__((unused)) bool th_prom_parse_sample(struct th_prom_state *st, const char *s,
                                                         size_t n, struct th_prom_sample *out)
{
    size_t i = 0;
    while (i < n && s[i] != '{' && s[i] != ' ')
        i++;
    if (!th_prom_metric_name_ok(s, i) || i >= TH_PROM_NAME_MAX) {
        th_prom_fail(st, "bad metric name in '%.*s'", (int)n, s);
        return false;
    }
    memcpy(out->name, s, i);
    out->name[i] = '\0';
    out->nlabels = 0;
    if (i < n && s[i] == '{') {
        i++;
        for (;;) {
            if (i < n && s[i] == '}') {
                i++;
                break;
            }
            size_t start = i;
            while (i < n && s[i] != '=')
                i++;
            if (i >= n || !th_prom_label_name_ok(s + start, i - start) ||
                i - start >= TH_PROM_NAME_MAX || out->nlabels == TH_PROM_MAX_LABELS) {
                th_prom_fail(st, "bad label name in '%.*s'", (int)n, s);
                return false;
            }
            struct th_prom_label *l = &out->labels[out->nlabels];
            memcpy(l->name, s + start, i - start);
            l->name[i - start] = '\0';
            for (int k = 0; k < out->nlabels; k++) {
                if (strcmp(out->labels[k].name, l->name) == 0) {
                    th_prom_fail(st, "label %s repeated in '%.*s'", l->name, (int)n, s);
                    return false;
                }
            }
            i++; /* '=' */
            if (i >= n || s[i] != '"') {
                th_prom_fail(st, "label value not quoted in '%.*s'", (int)n, s);
                return false;
            }
            i++;
            size_t v = 0;
            bool closed = false;
            while (i < n) {
                char c = s[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i >= n || (s[i] != '\\' && s[i] != '"' && s[i] != 'n')) {
                        th_prom_fail(st, "bad escape in '%.*s'", (int)n, s);
                        return false;
                    }
                    c = s[i] == 'n' ? '\n' : s[i];
                    i++;
                }
                if (v + 1 >= TH_PROM_VALUE_MAX) {
                    th_prom_fail(st, "label value too long in '%.*s'", (int)n, s);
                    return false;
                }
                l->value[v++] = c;
            }
            l->value[v] = '\0';
            if (!closed) {
                th_prom_fail(st, "unterminated label value in '%.*s'", (int)n, s);
                return false;
            }
            out->nlabels++;
            if (i < n && s[i] == ',') {
                i++;
                continue;
            }
            if (i < n && s[i] == '}') {
                i++;
                break;
            }
            th_prom_fail(st, "expected ',' or '}' in '%.*s'", (int)n, s);
            return false;
        }
    }
    if (i >= n || s[i] != ' ') {
        th_prom_fail(st, "no value in '%.*s'", (int)n, s);
        return false;
    }
    i++;
    size_t vstart = i;
    while (i < n && s[i] != ' ')
        i++;
    if (!th_prom_parse_value(s + vstart, i - vstart, &out->value)) {
        th_prom_fail(st, "bad value in '%.*s'", (int)n, s);
        return false;
    }
    if (i < n) { /* an optional timestamp: an integer, then nothing */
        i++;
        size_t tstart = i;
        if (i < n && s[i] == '-')
            i++;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i == tstart || i != n) {
            th_prom_fail(st, "trailing text in '%.*s'", (int)n, s);
            return false;
        }
    }
    return true;
}

static __attribute__((unused)) int th_prom_label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct th_prom_label *)a)->name, ((const struct th_prom_label *)b)->name);
}

/* The series' identity: name, then its labels sorted by name. Without `skip`
 * (a label name or NULL). malloc'd; NULL when out of memory. */
static __attribute__((unused)) char *th_prom_key(const struct th_prom_sample *smp, const char *name,
                                                 const char *skip)
{
    struct th_prom_label sorted[TH_PROM_MAX_LABELS];
    memcpy(sorted, smp->labels, sizeof sorted[0] * (size_t)smp->nlabels);
    qsort(sorted, (size_t)smp->nlabels, sizeof sorted[0], th_prom_label_cmp);
    size_t cap = strlen(name) + 3;
    for (int k = 0; k < smp->nlabels; k++)
        cap += strlen(sorted[k].name) + strlen(sorted[k].value) + 4;
    char *key = malloc(cap);
    if (key == NULL)
        return NULL;
    size_t o = (size_t)snprintf(key, cap, "%s{", name);
    for (int k = 0; k < smp->nlabels; k++) {
        if (skip && strcmp(sorted[k].name, skip) == 0)
            continue;
        o += (size_t)snprintf(key + o, cap - o, "%s=\"%s\",", sorted[k].name, sorted[k].value);
    }
    snprintf(key + o, cap - o, "}");
    return key;
}

/* Index of family `name`, adding it when absent; -1 when out of memory. */
static __attribute__((unused)) long th_prom_family(struct th_prom_state *st, const char *name)
{
    for (size_t f = 0; f < st->nfamilies; f++) {
        if (strcmp(st->families[f], name) == 0)
            return (long)f;
    }
    if (st->nfamilies == st->fcap) {
        size_t cap = st->fcap ? st->fcap * 2 : 32;
        char **fam = realloc(st->families, cap * sizeof *fam);
        if (fam == NULL)
            return -1;
        st->families = fam;
        int *type = realloc(st->family_type, cap * sizeof *type);
        if (type == NULL)
            return -1;
        st->family_type = type;
        bool *help = realloc(st->family_help, cap * sizeof *help);
        if (help == NULL)
            return -1;
        st->family_help = help;
        bool *closed = realloc(st->family_closed, cap * sizeof *closed);
        if (closed == NULL)
            return -1;
        st->family_closed = closed;
        st->fcap = cap;
    }
    st->families[st->nfamilies] = strdup(name);
    if (st->families[st->nfamilies] == NULL)
        return -1;
    st->family_type[st->nfamilies] = -1;
    st->family_help[st->nfamilies] = false;
    st->family_closed[st->nfamilies] = false;
    return (long)st->nfamilies++;
}

/* The family a sample belongs to: a histogram's _bucket/_sum/_count (and a
 * summary's _sum/_count) belong to the declared base name. */
static __attribute__((unused)) long th_prom_sample_family(struct th_prom_state *st,
                                                          const char *name, bool *is_bucket)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    *is_bucket = false;
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(name), sl = strlen(suffixes[k]);
        if (n <= sl || strcmp(name + n - sl, suffixes[k]) != 0)
            continue;
        char base[TH_PROM_NAME_MAX];
        snprintf(base, sizeof base, "%.*s", (int)(n - sl), name);
        for (size_t f = 0; f < st->nfamilies; f++) {
            int t = st->family_type[f];
            if (strcmp(st->families[f], base) == 0 &&
                (t == 2 || (t == 3 && k > 0))) { /* histogram, or summary sum/count */
                *is_bucket = k == 0;
                return (long)f;
            }
        }
    }
    return th_prom_family(st, name);
}

static __attribute__((unused)) bool th_prom_add_key(struct th_prom_state *st, char *key)
{
    for (size_t k = 0; k < st->nkeys; k++) {
        if (strcmp(st->keys[k], key) == 0) {
            th_prom_fail(st, "series %s repeated", key);
            free(key);
            return false;
        }
    }
    if (st->nkeys == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        char **grown = realloc(st->keys, cap * sizeof *grown);
        if (grown == NULL) {
            free(key);
            th_prom_fail(st, "out of memory");
            return false;
        }
        st->keys = grown;
        st->cap = cap;
    }
    st->keys[st->nkeys++] = key;
    return true;
}

/* Histogram bookkeeping: one row per series (labels without le). */
struct th_prom_hist {
    char *key;
    double last_bucket;
    bool has_inf;
    double inf;
    bool has_count;
    double count;
};

/* Checks `text`. Returns the number of problems (0: well-formed, no repeated
 * series); the first one is described in err. *nsamples (may be NULL) gets
 * the number of samples read. */
static __attribute__((unused)) int th_prom_check(const char *text, char *err, size_t errlen,
                                                 int *nsamples)
{
    struct th_prom_state st;
    memset(&st, 0, sizeof st);
    st.err = err;
    st.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    struct th_prom_hist *hists = NULL;
    size_t nhists = 0, hcap = 0;
    long current = -1; /* the family whose samples came last */
    int samples = 0;
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] != '\n') {
        st.line = 0;
        th_prom_fail(&st, "the text does not end with a newline");
    }
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        st.line++;
        if (n == 0) {
            /* blank lines are allowed */
        } else if (p[0] == '#') {
            char word[8] = "", name[TH_PROM_NAME_MAX] = "";
            int used = 0;
            char line[1024];
            snprintf(line, sizeof line, "%.*s", (int)n, p);
            if (sscanf(line, "# %7s %199s %n", word, name, &used) >= 2 &&
                (strcmp(word, "HELP") == 0 || strcmp(word, "TYPE") == 0)) {
                long f = th_prom_family(&st, name);
                if (f < 0) {
                    th_prom_fail(&st, "out of memory");
                    break;
                }
                if (!th_prom_metric_name_ok(name, strlen(name)))
                    th_prom_fail(&st, "bad metric name '%s'", name);
                if (strcmp(word, "HELP") == 0) {
                    if (st.family_help[f])
                        th_prom_fail(&st, "second HELP for %s", name);
                    st.family_help[f] = true;
                } else {
                    const char *type = line + used;
                    int t = -1;
                    for (int k = 0; k < 5; k++) {
                        if (strcmp(type, th_prom_types[k]) == 0)
                            t = k;
                    }
                    if (t < 0)
                        th_prom_fail(&st, "unknown type '%s' for %s", type, name);
                    else if (st.family_type[f] >= 0)
                        th_prom_fail(&st, "second TYPE for %s", name);
                    else if (current == f || st.family_closed[f])
                        th_prom_fail(&st, "TYPE for %s after its samples", name);
                    st.family_type[f] = t;
                }
            }
            /* other comments are allowed and ignored */
        } else {
            struct th_prom_sample smp;
            if (th_prom_parse_sample(&st, p, n, &smp)) {
                samples++;
                bool bucket = false;
                long f = th_prom_sample_family(&st, smp.name, &bucket);
                if (f < 0) {
                    th_prom_fail(&st, "out of memory");
                    break;
                }
                if (f != current) {
                    if (st.family_closed[f])
                        th_prom_fail(&st, "samples of %s are not together", st.families[f]);
                    if (current >= 0)
                        st.family_closed[current] = true;
                    current = f;
                }
                char *key = th_prom_key(&smp, smp.name, NULL);
                if (key == NULL || !th_prom_add_key(&st, key)) {
                    if (key == NULL)
                        th_prom_fail(&st, "out of memory");
                } else if (st.family_type[f] == 2) {
                    const char *le = NULL;
                    for (int k = 0; k < smp.nlabels; k++) {
                        if (strcmp(smp.labels[k].name, "le") == 0)
                            le = smp.labels[k].value;
                    }
                    if (bucket && le == NULL)
                        th_prom_fail(&st, "%s without le", smp.name);
                    char *hkey = th_prom_key(&smp, st.families[f], "le");
                    size_t h = 0;
                    while (hkey && h < nhists && strcmp(hists[h].key, hkey) != 0)
                        h++;
                    if (hkey && h == nhists) {
                        if (nhists == hcap) {
                            size_t cap = hcap ? hcap * 2 : 32;
                            struct th_prom_hist *grown = realloc(hists, cap * sizeof *grown);
                            if (grown == NULL) {
                                free(hkey);
                                th_prom_fail(&st, "out of memory");
                                break;
                            }
                            hists = grown;
                            hcap = cap;
                        }
                        memset(&hists[nhists], 0, sizeof hists[0]);
                        hists[nhists].key = hkey;
                        hists[nhists].last_bucket = -1;
                        nhists++;
                    } else {
                        free(hkey);
                    }
                    if (hkey == NULL) {
                        th_prom_fail(&st, "out of memory");
                    } else if (bucket && le != NULL) {
                        if (smp.value < hists[h].last_bucket)
                            th_prom_fail(&st, "bucket le=%s of %s decreases", le, hists[h].key);
                        hists[h].last_bucket = smp.value;
                        if (strcmp(le, "+Inf") == 0) {
                            hists[h].has_inf = true;
                            hists[h].inf = smp.value;
                        }
                    } else if (strlen(smp.name) > 6 &&
                               strcmp(smp.name + strlen(smp.name) - 6, "_count") == 0) {
                        hists[h].has_count = true;
                        hists[h].count = smp.value;
                    }
                }
            }
        }
        p = nl ? nl + 1 : p + n;
    }
    for (size_t h = 0; h < nhists; h++) {
        if (!hists[h].has_inf)
            th_prom_fail(&st, "histogram %s has no +Inf bucket", hists[h].key);
        else if (!hists[h].has_count || hists[h].count != hists[h].inf)
            th_prom_fail(&st, "histogram %s: _count differs from the +Inf bucket", hists[h].key);
        free(hists[h].key);
    }
    free(hists);
    for (size_t k = 0; k < st.nkeys; k++)
        free(st.keys[k]);
    free(st.keys);
    for (size_t f = 0; f < st.nfamilies; f++)
        free(st.families[f]);
    free(st.families);
    free(st.family_type);
    free(st.family_help);
    free(st.family_closed);
    if (nsamples != NULL)
        *nsamples = samples;
    return st.problems;
}

#endif
