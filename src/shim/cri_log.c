#include "cri_log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The next space-separated field of [*p, end): its start and length; *p moves past the space. */
static bool next_field(const char **p, const char *end, const char **field, size_t *len)
{
    const char *sp = memchr(*p, ' ', (size_t)(end - *p));
    if (sp == NULL || sp == *p)
        return false;
    *field = *p;
    *len = (size_t)(sp - *p);
    *p = sp + 1;
    return true;
}

static bool field_is(const char *f, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(f, word, len) == 0;
}

/* RFC 3339 starts "YYYY-MM-DDT": enough to tell a log entry from stray text. */
static bool looks_like_time(const char *f, size_t len)
{
    static const char shape[] = "dddd-dd-ddT";
    if (len < sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < sizeof(shape) - 1; i++)
        if (shape[i] == 'd' ? (f[i] < '0' || f[i] > '9') : f[i] != shape[i])
            return false;
    return true;
}

int cri_log_parse_line(const char *line, size_t len, struct cri_log_line *out)
{
    const char *p = line, *end = line + len, *f;
    size_t n;
    if (!next_field(&p, end, &f, &n) || !looks_like_time(f, n))
        return -EINVAL;
    if (!next_field(&p, end, &f, &n))
        return -EINVAL;
    enum cri_stream stream;
    if (field_is(f, n, "stdout"))
        stream = CRI_STDOUT;
    else if (field_is(f, n, "stderr"))
        stream = CRI_STDERR;
    else
        return -EINVAL;
    /* The tag field ends at a space; an entry with empty content may end right after it. */
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    const char *tag_end = sp ? sp : end;
    if (tag_end == p || (*p != 'P' && *p != 'F') || (tag_end - p > 1 && p[1] != ':'))
        return -EINVAL;
    *out = (struct cri_log_line){.stream = stream,
                                 .partial = *p == 'P',
                                 .content = sp ? sp + 1 : end,
                                 .len = sp ? (size_t)(end - sp - 1) : 0};
    return 0;
}

void cri_log_split(const char *text, size_t len, struct cri_log_streams *s)
{
    *s = (struct cri_log_streams){.out = xmalloc(len + 2), .err = xmalloc(len + 2)};
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        struct cri_log_line l;
        if (cri_log_parse_line(p, (size_t)(line_end - p), &l) < 0) {
            s->bad_lines++;
        } else {
            char *buf = l.stream == CRI_STDOUT ? s->out : s->err;
            size_t *blen = l.stream == CRI_STDOUT ? &s->out_len : &s->err_len;
            memcpy(buf + *blen, l.content, l.len);
            *blen += l.len;
            if (!l.partial)
                buf[(*blen)++] = '\n';
        }
        p = line_end + (nl != NULL);
    }
    s->out[s->out_len] = '\0';
    s->err[s->err_len] = '\0';
}

void cri_log_streams_free(struct cri_log_streams *s)
{
    free(s->out);
    free(s->err);
    s->out = s->err = NULL;
    s->out_len = s->err_len = 0;
}
