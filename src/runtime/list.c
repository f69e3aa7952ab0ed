/* reaper-runtime list: every container under the root, as a table or a JSON array. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static json_t *entry_json(const struct container_state *st, enum container_status status)
{
    _cleanup_free_ char *oci = state_oci_json(st, status);
    json_t *o = json_loads(oci, 0, NULL);
    if (o == NULL)
        o = json_object();
    json_object_set_new(o, "created", json_string(st->created ? st->created : ""));
    json_object_set_new(o, "namespace", json_string(st->k8s_namespace ? st->k8s_namespace : ""));
    return o;
}

static void print_row(const struct container_state *st, enum container_status status)
{
    printf("%-24s %-8d %-10s %-40s %s\n", st->id, (int)st->pid, container_status_name(status),
           st->bundle ? st->bundle : "", st->created ? st->created : "");
}

static _must_check_ int list_all(struct cli *cli, bool json, rerr **err)
{
    _cleanup_strv_ char **ids = NULL;
    int r = state_list(cli->cfg.runtime_root, &ids, err);
    if (r < 0)
        return r;
    json_t *arr = json_array();
    if (!json)
        printf("%-24s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
    for (size_t i = 0; ids && ids[i]; i++) {
        struct container_state *st = NULL;
        enum container_status status;
        _cleanup_rerr_ rerr *e = NULL;
        if (container_state(&cli->cfg, ids[i], &st, &status, &e) < 0) {
            log_warn("list: %s", rerr_msg(e)); /* deleted meanwhile, or unreadable */
            continue;
        }
        if (json)
            json_array_append_new(arr, entry_json(st, status));
        else
            print_row(st, status);
        state_free(st);
    }
    if (json) {
        char *s = json_dumps(arr, JSON_COMPACT);
        printf("%s\n", s ? s : "[]");
        free(s);
    }
    json_decref(arr);
    return 0;
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    const char *format = "table";
    int c;
    while ((c = cli_getopt(argc, argv, "f:", opts)) != -1) {
        if (c != 'f')
            return 2;
        format = optarg;
    }
    int r = cli_positionals("list", argc, argv, 0, 0);
    if (r != 0)
        return r;
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
        return cli_usage("list", "--format must be table or json, not \"%s\"", format);
    _cleanup_rerr_ rerr *err = NULL;
    if (list_all(cli, strcmp(format, "json") == 0, &err) < 0)
        return cli_fail(cli, err);
    return 0;
}
