#include "kyaml.h"
#include "cleanup.h"
#include "kjson.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <yaml.h>

#define KYAML_MAX_DEPTH 64

static json_t *scalar_to_json(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0)
            return json_true();
        if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0)
            return json_false();
        if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || n == 0)
            return json_null();
        int64_t i;
        if (parse_int64(v, INT64_MIN, INT64_MAX, &i) == 0)
            return json_integer(i);
    }
    return json_stringn(v, n);
}

static _must_check_ int parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, json_t **out,
                                   rerr **err);

static _must_check_ int next_event(yaml_parser_t *p, yaml_event_t *ev, rerr **err)
{
    if (!yaml_parser_parse(p, ev)) {
        const char *problem = p->problem ? p->problem : "parse error";
        if (p->context) { /* "while parsing a block mapping": where the broken construct began */
            const char *ctx = p->context;
            if (strncmp(ctx, "while ", 6) == 0)
                ctx += 6;
            return rerr_setx(err, EINVAL, "YAML line %zu: %s (%s started on line %zu)",
                             p->problem_mark.line + 1, problem, ctx, p->context_mark.line + 1);
        }
        return rerr_setx(err, EINVAL, "YAML line %zu: %s", p->problem_mark.line + 1, problem);
    }
    return 0;
}

/* Parse children until the matching end event; mapping keys must be scalars. */
static _must_check_ int parse_children(yaml_parser_t *p, bool mapping, int depth, json_t *dst,
                                       rerr **err)
{
    for (;;) {
        yaml_event_t ev;
        int r = next_event(p, &ev, err);
        if (r < 0)
            return r;
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        _cleanup_free_ char *key = NULL;
        if (mapping) {
            if (ev.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&ev);
                return rerr_setx(err, EINVAL, "YAML: mapping keys must be scalars");
            }
            key = xstrdup((const char *)ev.data.scalar.value);
            yaml_event_delete(&ev);
            r = next_event(p, &ev, err);
            if (r < 0)
                return r;
        }
        json_t *child = NULL;
        r = parse_node(p, &ev, depth + 1, &child, err);
        yaml_event_delete(&ev);
        if (r < 0)
            return r;
        if (mapping)
            json_object_set_new(dst, key, child);
        else
            json_array_append_new(dst, child);
    }
}

static _must_check_ int parse_node(yaml_parser_t *p, yaml_event_t *ev, int depth, json_t **out,
                                   rerr **err)
{
    if (depth > KYAML_MAX_DEPTH)
        return rerr_setx(err, EINVAL, "YAML nested deeper than %d levels", KYAML_MAX_DEPTH);
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        *out = scalar_to_json(ev);
        return 0;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool mapping = ev->type == YAML_MAPPING_START_EVENT;
        json_t *dst = mapping ? json_object() : json_array();
        int r = parse_children(p, mapping, depth, dst, err);
        if (r < 0) {
            json_decref(dst);
            return r;
        }
        *out = dst;
        return 0;
    }
    case YAML_ALIAS_EVENT:
        return rerr_setx(err, EINVAL, "YAML aliases are not supported");
    default:
        return rerr_setx(err, EINVAL, "YAML: unexpected event %d", ev->type);
    }
}

/* Skip stream/document start events, then parse the root node. */
static _must_check_ int parse_root(yaml_parser_t *p, json_t **out, rerr **err)
{
    for (;;) {
        yaml_event_t ev;
        int r = next_event(p, &ev, err);
        if (r < 0)
            return r;
        if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            *out = json_object();
            return 0;
        }
        r = parse_node(p, &ev, 0, out, err);
        yaml_event_delete(&ev);
        return r;
    }
}

/* Parse the next document's root after its DOCUMENT-START event; consumes its DOCUMENT-END. */
static int parse_document(yaml_parser_t *p, json_t **out, rerr **err)
{
    yaml_event_t ev;
    int r = next_event(p, &ev, err);
    if (r < 0)
        return r;
    r = parse_node(p, &ev, 0, out, err);
    yaml_event_delete(&ev);
    if (r < 0)
        return r;
    r = next_event(p, &ev, err);
    if (r < 0) {
        json_decref(steal_ptr(*out));
        return r;
    }
    yaml_event_delete(&ev);
    return 0;
}

static int parse_stream(yaml_parser_t *p, kyaml_doc_fn fn, void *ud, rerr **err)
{
    size_t index = 0;
    for (;;) {
        yaml_event_t ev;
        int r = next_event(p, &ev, err);
        if (r < 0)
            return rerr_wrap(err, "document %zu", index + 1);
        yaml_event_type_t type = ev.type;
        size_t line = ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            return 0;
        if (type != YAML_DOCUMENT_START_EVENT)
            continue;
        index++;
        json_t *doc = NULL;
        r = parse_document(p, &doc, err);
        if (r < 0)
            return rerr_wrap(err, "document %zu", index);
        r = fn(index, line, doc, ud, err);
        json_decref(doc);
        if (r < 0)
            return r;
    }
}

int kyaml_parse_stream(const char *buf, size_t len, kyaml_doc_fn fn, void *ud, rerr **err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return rerr_setx(err, ENOMEM, "YAML parser init");
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    int r = parse_stream(&p, fn, ud, err);
    yaml_parser_delete(&p);
    return r;
}

int kyaml_parse(const char *buf, size_t len, json_t **out, rerr **err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return rerr_setx(err, ENOMEM, "YAML parser init");
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    int r = parse_root(&p, out, err);
    yaml_parser_delete(&p);
    return r;
}
