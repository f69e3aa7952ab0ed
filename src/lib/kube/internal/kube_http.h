/* Private to the Kubernetes client library (kube_client.c, kube_watch.c): the curl handle set-up
 * and the HTTP status mapping. Not on any consumer's include path, so curl stays private. */
#ifndef REAPER_KUBE_HTTP_H
#define REAPER_KUBE_HTTP_H

#include <curl/curl.h>
#include <jansson.h>

#include "err.h"
#include "kube_client.h"

/* Set URL, timeouts, TLS and auth on h; appends the request headers to *headers. */
void kube_curl_prepare(struct kube_client *c, CURL *h, const char *path,
                       struct curl_slist **headers);
/* The request timeout in seconds (kube_client_set_request_timeout). */
long kube_client_request_timeout(const struct kube_client *c);
/* Map an HTTP status + Status body to a negative errno with message. */
int kube_status_error(long http, const json_t *body, const char *what, rerr **err);

#endif
