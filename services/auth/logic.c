/*
 * logic.c — td-auth's pure rules (see logic.h): email shape, password policy,
 * revocation lifetimes. Kept free of I/O so every rule has a unit test.
 */
#include "logic.h"
#include "td_utf8.h"

#include <string.h>

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The characters RFC 5322 allows unquoted in a local part ("atext"), plus
 * the dot, whose placement is checked separately. Quoted local parts are
 * refused: nobody signs up to a diary with "a b"@example.com. */
static bool is_local_char(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

static const char *check_local(const char *s, size_t len)
{
    if (len == 0)
        return "Not a valid email address.";
    if (len > 64)
        return "The part before @ is longer than 64 characters.";
    if (s[0] == '.' || s[len - 1] == '.')
        return "Not a valid email address.";
    for (size_t i = 0; i < len; i++) {
        if (!is_local_char((unsigned char)s[i]) || (s[i] == '.' && i + 1 < len && s[i + 1] == '.'))
            return "Not a valid email address.";
    }
    return NULL;
}

/* Domain: two or more dot-separated labels of [a-z0-9-], none starting or
 * ending with '-', each 1-63 long; the last one (the TLD) letters only, at
 * least two of them (or a punycode "xn--" one). Internationalised domains
 * arrive as punycode. */
static const char *check_domain(const char *s, size_t len)
{
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        size_t n = i - start;
        if (n == 0 || n > 63 || s[start] == '-' || s[i - 1] == '-')
            return "Not a valid email address.";
        bool all_alpha = true;
        for (size_t j = start; j < i; j++) {
            unsigned char c = (unsigned char)s[j];
            if (!(is_alnum(c) || c == '-'))
                return "Not a valid email address.";
            all_alpha = all_alpha && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
        }
        labels++;
        /* A TLD: letters, or an internationalised one in punycode. */
        bool puny = n > 4 && strncmp(s + start, "xn--", 4) == 0;
        if (i == len && ((!all_alpha && !puny) || n < 2))
            return "Not a valid email address.";
        start = i + 1;
    }
    return labels >= 2 ? NULL : "Not a valid email address.";
}

const char auth_email_too_long[] = "Longer than maximum length 254.";

const char *auth_email_normalize(const char *in, size_t len, char out[AUTH_EMAIL_MAX + 1])
{
    /* JSON allows "\u0000"; a NUL would cut the stored C string short. */
    if (len > 0 && memchr(in, '\0', len) != NULL)
        return "Not a valid email address.";
    size_t b = 0, e = len;
    while (b < e && is_space((unsigned char)in[b]))
        b++;
    while (e > b && is_space((unsigned char)in[e - 1]))
        e--;
    if (e == b)
        return "Not a valid email address.";
    /* Non-ASCII bytes are refused by the shape check below, so bytes are
     * characters here and the length limit can be judged on bytes. */
    if (e - b > AUTH_EMAIL_MAX)
        return auth_email_too_long;
    char buf[AUTH_EMAIL_MAX + 1];
    size_t n = e - b, at = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[b + i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c == '@') {
            if (at != n)
                return "Not a valid email address.";
            at = i;
        }
        buf[i] = (char)c;
    }
    buf[n] = '\0';
    if (at == n)
        return "Not a valid email address.";
    const char *problem = check_local(buf, at);
    if (problem == NULL)
        problem = check_domain(buf + at + 1, n - at - 1);
    if (problem != NULL)
        return problem;
    memcpy(out, buf, n + 1);
    return NULL;
}

/* Decodes one UTF-8 sequence at s[*i]; returns the code point and advances
 * *i, or returns -1 on a malformed, over-long or surrogate sequence. */
/* The code point at s[*i] (advancing *i past it), or -1 for invalid UTF-8. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    uint32_t cp;
    size_t n = td_utf8_decode((const char *)s + *i, len - *i, &cp);
    if (n == 0)
        return -1;
    *i += n;
    return (long)cp;
}

static bool is_control(long cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0);
}

long auth_utf8_chars(const char *s, size_t len)
{
    long n = 0;
    for (size_t i = 0; i < len;) {
        long cp = utf8_next((const unsigned char *)s, len, &i);
        if (cp < 0 || is_control(cp))
            return -1;
        n++;
    }
    return n;
}

unsigned auth_password_check(const char *pw, size_t len)
{
    unsigned problems = 0;
    bool upper = false, lower = false, digit = false, special = false;
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        long cp = utf8_next((const unsigned char *)pw, len, &i);
        if (cp < 0 || is_control(cp))
            return AUTH_PW_BAD_UTF8;
        chars++;
        if (cp >= 'A' && cp <= 'Z')
            upper = true;
        else if (cp >= 'a' && cp <= 'z')
            lower = true;
        else if (cp >= '0' && cp <= '9')
            digit = true;
        else if (cp != ' ')
            special = true;
    }
    if (chars < AUTH_PASSWORD_MIN)
        problems |= AUTH_PW_TOO_SHORT;
    if (chars > AUTH_PASSWORD_MAX)
        problems |= AUTH_PW_TOO_LONG;
    if (!upper)
        problems |= AUTH_PW_NO_UPPER;
    if (!lower)
        problems |= AUTH_PW_NO_LOWER;
    if (!digit)
        problems |= AUTH_PW_NO_DIGIT;
    if (!special)
        problems |= AUTH_PW_NO_SPECIAL;
    return problems;
}

const char *auth_password_problem_message(unsigned bit)
{
    switch (bit) {
    case AUTH_PW_BAD_UTF8:
        return "Must be valid UTF-8 without control characters.";
    case AUTH_PW_TOO_SHORT:
        return "Must be at least 8 characters long.";
    case AUTH_PW_TOO_LONG:
        return "Longer than maximum length 128.";
    case AUTH_PW_NO_UPPER:
        return "Must contain at least one uppercase letter.";
    case AUTH_PW_NO_LOWER:
        return "Must contain at least one lowercase letter.";
    case AUTH_PW_NO_DIGIT:
        return "Must contain at least one digit.";
    case AUTH_PW_NO_SPECIAL:
        return "Must contain at least one special character.";
    default:
        return "Invalid password.";
    }
}

int64_t auth_revocation_keep_until(int64_t exp)
{
    return exp + AUTH_MAX_LEEWAY_S + 1;
}
