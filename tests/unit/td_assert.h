/*
 * td_assert.h — assertions shared by the unit tests (header-only, so the
 * test_*.c glob in CMakeLists.txt stays one binary per file).
 *
 * TD_ASSERT_OK(expr, ...) asserts that expr, a call returning 0 or a TD_E*
 * code (common/td_error.h), returned 0. On failure it names the expression
 * and the code, so a failing setup step reads "td_db_open(dir, "a.db", &db)
 * returned -20 TD_ESTORAGE (Internal server error)" rather than "-20 != 0".
 * The optional rest is a printf format (a string literal) and its
 * arguments, added to the message, e.g. TD_ASSERT_OK(f(x), "case %zu", i).
 *
 * td_error.h has no td_strerror: td_error_symbol() is the one its header
 * names for test failures, and td_error_message() adds the client text.
 */
#ifndef TD_TEST_ASSERT_H
#define TD_TEST_ASSERT_H

#include "td_error.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

__attribute__((format(printf, 3, 4))) static inline void
td_assert_format_(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* The caller's format is pasted after " " so that it is never empty (an
 * empty format is a -Wformat-zero-length error under TD_WERROR) and stays
 * checked against its arguments by the format attribute above. The message
 * is formatted here and cr_assert_fail is expanded at the call site, so
 * Criterion reports the test's file and line, not this header's. */
#define TD_ASSERT_OK(expr, ...)                                                          \
    do {                                                                                 \
        int td_assert_rc_ = (expr);                                                      \
        if (td_assert_rc_ != 0) {                                                        \
            char td_assert_msg_[512];                                                    \
            td_assert_format_(td_assert_msg_, sizeof td_assert_msg_, " " __VA_ARGS__);   \
            cr_assert_fail("%s returned %d %s (%s)%s%s", #expr, td_assert_rc_,           \
                           td_error_symbol(td_assert_rc_), td_error_message(td_assert_rc_), \
                           td_assert_msg_[1] != '\0' ? ":" : "",                         \
                           td_assert_msg_[1] != '\0' ? td_assert_msg_ : "");             \
        }                                                                                \
    } while (0)

#endif
