/*
 * suite.h — the set-up and tear-down every integration file shares: a
 * Criterion suite whose every test gets a fresh stack (harness.h), started
 * with the given options and stopped after the test, which fails when a
 * daemon did not stop cleanly (a non-zero exit or a sanitizer report; the
 * harness prints the daemon logs then).
 *
 *     TH_STACK_SUITE(diary, 120, .peers_die = true);
 *     TH_STACK_SUITE_THEN(abuse, 180, make_bearer);   // runs make_bearer()
 *                                                     // once the stack is up
 *
 * Both define `static struct th_stack stack` for the file's tests. The
 * options are designated initialisers of struct th_options; none gives the
 * defaults. A file whose suites need different stacks, or whose set-up does
 * more than start one, keeps its own TestSuite lines.
 */
#ifndef TD_HARNESS_SUITE_H
#define TD_HARNESS_SUITE_H

#include "harness.h"

#include <criterion/criterion.h>

static inline void th_suite_nothing_(void)
{
}

#define TH_STACK_SUITE_THEN(suite, timeout_s, then, ...)                                        \
    static struct th_stack stack;                                                               \
    static void suite##_start_(void)                                                            \
    {                                                                                           \
        struct th_options opts_ = {__VA_ARGS__};                                                \
        cr_assert_eq(th_stack_start(&stack, &opts_), 0, "stack did not start");                 \
        then();                                                                                 \
    }                                                                                           \
    static void suite##_stop_(void)                                                             \
    {                                                                                           \
        cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");                \
    }                                                                                           \
    TestSuite(suite, .init = suite##_start_, .fini = suite##_stop_, .timeout = (timeout_s))

#define TH_STACK_SUITE(suite, timeout_s, ...)                                                   \
    TH_STACK_SUITE_THEN(suite, timeout_s, th_suite_nothing_, __VA_ARGS__)

#endif
