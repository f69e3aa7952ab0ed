#include "yamlout.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Plain only for names and paths that no YAML reader takes for a bool, null or number. */
static bool plain_ok(const char *s)
{
    static const char *const special[] = {"true", "false", "null", "yes", "no", "on", "off", "~"};
    if (!*s || strspn(s, "0123456789.-+") == strlen(s))
        return false;
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        if (strcasecmp(s, special[i]) == 0)
            return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") ==
               strlen(s) &&
           s[0] != '-' && s[0] != '.';
}

static void write_scalar(FILE *f, const json_t *v)
{
    if (json_is_string(v) && plain_ok(json_string_value(v))) {
        fputs(json_string_value(v), f);
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    fputs(s, f);
    free(s);
}

static bool is_empty_container(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static void write_node(FILE *f, const json_t *v, int indent, bool first_inline);

/* The value after "key:" (or after "- "): inline when scalar or empty, else on new lines. */
static void write_value(FILE *f, const json_t *v, int indent)
{
    if (json_is_object(v) && json_object_size(v)) {
        fputc('\n', f);
        write_node(f, v, indent + 2, false);
    } else if (json_is_array(v) && json_array_size(v)) {
        fputc('\n', f);
        write_node(f, v, indent, false);
    } else {
        fputc(' ', f);
        if (is_empty_container(v))
            fputs(json_is_object(v) ? "{}" : "[]", f);
        else
            write_scalar(f, v);
        fputc('\n', f);
    }
}

/* first_inline: the first line continues a "- " already written. */
static void write_node(FILE *f, const json_t *v, int indent, bool first_inline)
{
    if (json_is_object(v)) {
        const char *key;
        const json_t *child;
        bool first = true;
        json_object_foreach((json_t *)v, key, child)
        {
            if (!(first && first_inline))
                fprintf(f, "%*s", indent, "");
            first = false;
            json_t *k = json_string(key);
            write_scalar(f, k);
            json_decref(k);
            fputc(':', f);
            write_value(f, child, indent);
        }
        return;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        fprintf(f, "%*s-", indent, "");
        if (json_is_object(item) && json_object_size(item)) {
            fputc(' ', f);
            write_node(f, item, indent + 2, true);
        } else if (json_is_array(item) && json_array_size(item)) {
            fputc('\n', f);
            write_node(f, item, indent + 2, false);
        } else {
            write_value(f, item, indent);
        }
    }
}

void yaml_write_docs(FILE *f, const json_t *docs)
{
    size_t i;
    const json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        if (i)
            fputs("---\n", f);
        write_node(f, doc, 0, false);
    }
}
