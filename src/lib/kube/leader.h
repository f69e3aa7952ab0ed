/* Leader election on a coordination.k8s.io/v1 Lease, client-go semantics:
 * - a candidate takes the lease only when it is unheld or its record (holder + renewTime) has not
 *   changed for leaseDurationSeconds as measured on the candidate's own monotonic clock (no trust
 *   in other nodes' wall clocks);
 * - the holder renews every retry period and considers itself leader only while its last
 *   successful renewal is younger than renew_deadline (< lease duration), so two replicas never
 *   act at once;
 * - updates use the Lease's resourceVersion: a racing candidate gets 409 and loses;
 * - from leader_new to leader_free the client's writes are fenced: only the elector's own Lease
 *   writes pass unless leader_is_leading() (a lost lease stops writes mid-reconcile). */
#ifndef REAPER_LEADER_H
#define REAPER_LEADER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "kube_client.h"

struct leader_config {
    const char *namespace;
    const char *name;
    const char *identity;
    unsigned lease_duration_s; /* default 15 */
    unsigned renew_deadline_s; /* default 10 */
    unsigned retry_period_s;   /* default 2 */
    void (*on_started)(void *ud);
    void (*on_stopped)(void *ud); /* leadership lost (not called on release) */
    void *ud;
};

/* ---- the decision, without I/O ---- */
struct leader_observation {
    char *record;     /* holder|renewTime|leaseTransitions last seen */
    uint64_t seen_ns; /* monotonic time when that record was first seen */
};
enum leader_decision { LEADER_WAIT, LEADER_ACQUIRE, LEADER_RENEW };
/* Update obs with the lease (NULL: none exists) as seen at now_ns, and decide. */
enum leader_decision leader_decide(struct leader_observation *obs, const json_t *lease,
                                   const char *identity, unsigned lease_duration_s,
                                   uint64_t now_ns);
/* The Lease object to PUT/POST for acquiring or renewing (new reference). */
json_t *leader_lease_object(const json_t *current, const struct leader_config *cfg,
                            enum leader_decision d);

/* ---- the elector thread ---- */
struct leader_elector;
struct leader_elector *leader_new(struct kube_client *c, const struct leader_config *cfg);
_must_check_ int leader_start(struct leader_elector *le, rerr **err);
bool leader_is_leading(struct leader_elector *le);
/* Block until leading (true) or stopped/timeout (false). */
bool leader_wait_leading(struct leader_elector *le, uint64_t timeout_ms);
/* Stop the thread; if leading, release the lease (holder cleared) so a successor starts at once. */
void leader_stop(struct leader_elector *le);
void leader_free(struct leader_elector *le);

#endif
