/* libFuzzer: ttrpc frame splitter + Request decoder + every Task request message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "task.pb-c.h"
#include "ttrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const task_requests[] = {
    &reaper__task__create_task_request__descriptor,
    &reaper__task__start_request__descriptor,
    &reaper__task__delete_request__descriptor,
    &reaper__task__state_request__descriptor,
    &reaper__task__pids_request__descriptor,
    &reaper__task__pause_request__descriptor,
    &reaper__task__resume_request__descriptor,
    &reaper__task__checkpoint_task_request__descriptor,
    &reaper__task__kill_request__descriptor,
    &reaper__task__exec_process_request__descriptor,
    &reaper__task__resize_pty_request__descriptor,
    &reaper__task__close_iorequest__descriptor,
    &reaper__task__update_task_request__descriptor,
    &reaper__task__wait_request__descriptor,
    &reaper__task__stats_request__descriptor,
    &reaper__task__connect_request__descriptor,
    &reaper__task__shutdown_request__descriptor,
};

static int on_frame(const struct ttrpc_header *h, const uint8_t *body, void *user)
{
    size_t *frames = user;
    (*frames)++;
    if (!body || h->type != TTRPC_TYPE_REQUEST)
        return 0;
    struct ttrpc_request req;
    void *msg = ttrpc_request_decode(h->stream_id, body, h->length, &req);
    if (!msg)
        return 0;
    for (size_t i = 0; i < sizeof(task_requests) / sizeof(task_requests[0]); i++) {
        ProtobufCMessage *m =
            protobuf_c_message_unpack(task_requests[i], NULL, req.payload_len, req.payload);
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    size_t flen;
    free(ttrpc_response_frame(req.stream_id, TTRPC_INVALID_ARGUMENT, req.method, NULL, 0, &flen));
    ttrpc_request_free(msg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t discard = 0;
    size_t frames = 0;
    long used = ttrpc_parse_frames(data, size, &discard, on_frame, &frames);
    if (used < 0 || (size_t)used > size)
        abort();
    return 0;
}
