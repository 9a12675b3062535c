#define G_LOG_DOMAIN "starling-hooks"

#include "st-hook-client.h"

#include <libsoup/soup.h>
#include <string.h>

struct _StHookClient {
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  GPtrArray    *targets;     /* StHookTarget*, hook thread only */
  bool          stopping;    /* hook thread only */
};

struct _StHookTarget {
  StHookClient *client;
  SoupSession  *session;
  GPtrArray    *requests;    /* HookRequest* in flight */
  bool          freeing;     /* free once requests is empty */
};

/* The largest answer read: a hook answers with at most the messages it was
 * sent, so anything much larger is a broken hook, not a reason to run out
 * of memory. */
#define ANSWER_MIN_LIMIT (16 * 1024 * 1024)
#define READ_CHUNK       (64 * 1024)

typedef struct {
  StHookTarget *target;
  SoupMessage  *msg;
  GInputStream *stream;
  GByteArray   *answer;
  gsize         limit;
  GCancellable *cancellable;
  GSource      *timer;
  guint         timeout_ms;
  bool          timed_out;
  bool          cancelled;   /* by the client or target going away */
  StHookDone    done;
  gpointer      data;
} HookRequest;

static gpointer
hook_thread (gpointer data)
{
  StHookClient *client = data;

  g_main_context_push_thread_default (client->context);
  g_main_loop_run (client->loop);
  g_main_context_pop_thread_default (client->context);
  return NULL;
}

StHookClient *
st_hook_client_new (void)
{
  StHookClient *client = g_new0 (StHookClient, 1);

  client->context = g_main_context_new ();
  client->loop = g_main_loop_new (client->context, FALSE);
  client->targets = g_ptr_array_new ();
  client->thread = g_thread_new ("starling-hooks", hook_thread, client);
  return client;
}

void
st_hook_client_invoke (StHookClient *client, GSourceFunc func, gpointer data)
{
  /* A source rather than g_main_context_invoke: invoke may run func right
   * here when the hook thread has not acquired the context yet. */
  GSource *idle = g_idle_source_new ();

  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (idle, func, data, NULL);
  g_source_attach (idle, client->context);
  g_source_unref (idle);
}

static void
target_destroy (StHookTarget *target)
{
  g_ptr_array_remove (target->client->targets, target);
  g_ptr_array_unref (target->requests);
  g_clear_object (&target->session);
  g_free (target);
}

static void
maybe_quit (StHookClient *client)
{
  if (client->stopping && client->targets->len == 0)
    g_main_loop_quit (client->loop);
}

static gboolean
stop_on_thread (gpointer data)
{
  StHookClient *client = data;
  g_autoptr (GPtrArray) targets = g_ptr_array_copy (client->targets, NULL, NULL);

  client->stopping = true;
  for (guint i = 0; i < targets->len; i++)
    st_hook_target_free (g_ptr_array_index (targets, i));
  maybe_quit (client);
  return G_SOURCE_REMOVE;
}

void
st_hook_client_free (StHookClient *client)
{
  if (!client)
    return;
  st_hook_client_invoke (client, stop_on_thread, client);
  g_thread_join (client->thread);
  /* Sources left unrun (the idles of late invokes) hold no memory of ours
   * beyond what their owners free: the context goes with them. */
  g_ptr_array_unref (client->targets);
  g_main_loop_unref (client->loop);
  g_main_context_unref (client->context);
  g_free (client);
}

StHookTarget *
st_hook_target_new (StHookClient *client, guint concurrency)
{
  StHookTarget *target = g_new0 (StHookTarget, 1);

  concurrency = MAX (concurrency, 1);
  target->client = client;
  target->requests = g_ptr_array_new ();
  /* No proxy: a hook is a service next to the broker, and the default
   * resolver would load GIO modules into the broker for nothing. The
   * whole-request timeout is ours (timeout_ms); libsoup's own only covers
   * a stalled socket, which ours covers too. */
  target->session = soup_session_new_with_options ("max-conns", (int) concurrency,
                                                   "max-conns-per-host", (int) concurrency,
                                                   "proxy-resolver", NULL,
                                                   "idle-timeout", 60,
                                                   "user-agent", "starlingd-hooks",
                                                   NULL);
  g_ptr_array_add (client->targets, target);
  return target;
}

void
st_hook_target_set_concurrency (StHookTarget *target, guint concurrency)
{
  /* libsoup reads its limits once: a new session takes the new one. The
   * old one keeps serving requests already in flight until it is dropped
   * with them. */
  concurrency = MAX (concurrency, 1);
  g_object_unref (target->session);
  target->session = soup_session_new_with_options ("max-conns", (int) concurrency,
                                                   "max-conns-per-host", (int) concurrency,
                                                   "proxy-resolver", NULL,
                                                   "idle-timeout", 60,
                                                   "user-agent", "starlingd-hooks",
                                                   NULL);
}

void
st_hook_target_free (StHookTarget *target)
{
  if (!target)
    return;
  target->freeing = true;
  if (target->requests->len == 0)
    {
      StHookClient *client = target->client;

      target_destroy (target);
      maybe_quit (client);
      return;
    }
  for (guint i = 0; i < target->requests->len; i++)
    {
      HookRequest *r = g_ptr_array_index (target->requests, i);

      r->cancelled = true;
      g_cancellable_cancel (r->cancellable);
    }
}

static gboolean
request_timeout (gpointer data)
{
  HookRequest *r = data;

  r->timed_out = true;
  g_clear_pointer (&r->timer, g_source_unref);
  g_cancellable_cancel (r->cancellable);
  return G_SOURCE_REMOVE;
}

/* Runs done once, with the answer or why there is none, and frees r. */
static void
request_finish (HookRequest *r, const GError *error, const char *failure)
{
  StHookTarget *target = r->target;
  g_autofree char *why = NULL;
  g_autoptr (GBytes) body = NULL;
  StHookResult result = { .cancelled = r->cancelled };

  if (r->timer)
    {
      g_source_destroy (r->timer);
      g_clear_pointer (&r->timer, g_source_unref);
    }
  if (!error && !failure)
    {
      result.status = soup_message_get_status (r->msg);
      body = g_byte_array_free_to_bytes (g_steal_pointer (&r->answer));
      result.body = body;
    }
  else if (r->timed_out)
    result.error = why = g_strdup_printf ("no answer within %u ms", r->timeout_ms);
  else
    result.error = why = g_strdup (failure ? failure : error->message);

  g_ptr_array_remove (target->requests, r);
  r->done (&result, r->data);
  if (r->answer)
    g_byte_array_unref (r->answer);
  g_clear_object (&r->stream);
  g_object_unref (r->msg);
  g_object_unref (r->cancellable);
  g_free (r);

  if (target->freeing && target->requests->len == 0)
    {
      StHookClient *client = target->client;

      target_destroy (target);
      maybe_quit (client);
    }
}

static void
read_done (GObject *source, GAsyncResult *res, gpointer data)
{
  HookRequest *r = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, &error);
  gsize len;
  const guint8 *bytes;

  if (!chunk)
    {
      request_finish (r, error, NULL);
      return;
    }
  bytes = g_bytes_get_data (chunk, &len);
  if (len == 0)
    {
      request_finish (r, NULL, NULL);
      return;
    }
  if (r->answer->len + len > r->limit)
    {
      g_autofree char *why = g_strdup_printf ("the answer is larger than %" G_GSIZE_FORMAT " bytes",
                                              r->limit);

      g_cancellable_cancel (r->cancellable);
      request_finish (r, NULL, why);
      return;
    }
  g_byte_array_append (r->answer, bytes, len);
  g_input_stream_read_bytes_async (r->stream, READ_CHUNK, G_PRIORITY_DEFAULT, r->cancellable,
                                   read_done, r);
}

static void
request_sent (GObject *source, GAsyncResult *res, gpointer data)
{
  HookRequest *r = data;
  g_autoptr (GError) error = NULL;

  r->stream = soup_session_send_finish (SOUP_SESSION (source), res, &error);
  if (!r->stream)
    {
      request_finish (r, error, NULL);
      return;
    }
  r->answer = g_byte_array_new ();
  g_input_stream_read_bytes_async (r->stream, READ_CHUNK, G_PRIORITY_DEFAULT, r->cancellable,
                                   read_done, r);
}

void
st_hook_post (StHookTarget *target,
              const char   *url,
              GBytes       *body,
              StSigningKey *key,
              guint         timeout_ms,
              StHookDone    done,
              gpointer      data)
{
  g_autoptr (GError) error = NULL;
  HookRequest *r;
  SoupMessage *msg;

  if (target->freeing || target->client->stopping)
    {
      StHookResult result = { .cancelled = true, .error = "stopping" };

      done (&result, data);
      return;
    }

  msg = soup_message_new (SOUP_METHOD_POST, url);
  if (!msg)
    {
      g_autofree char *why = g_strdup_printf ("“%s” is not a URL libsoup can use", url);
      StHookResult result = { .error = why };

      done (&result, data);
      return;
    }

  /* The signature covers the timestamp string followed by the body, as
   * Cloudflare's brokers sign (the Worker checks both, so a replayed body
   * needs its old timestamp). */
  gsize body_len;
  const guint8 *body_data = g_bytes_get_data (body, &body_len);
  g_autofree char *timestamp = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC);
  size_t ts_len = strlen (timestamp);
  g_autofree guint8 *signed_data = g_malloc (ts_len + body_len + 1);
  guint8 sig[ST_ED25519_SIGNATURE_LEN];

  memcpy (signed_data, timestamp, ts_len);
  if (body_len)
    memcpy (signed_data + ts_len, body_data, body_len);
  if (!key || !st_signing_key_sign (key, signed_data, ts_len + body_len, sig, &error))
    {
      g_autofree char *why = g_strdup_printf ("cannot sign the request: %s",
                                              error ? error->message : "the broker has no signing key");
      StHookResult result = { .error = why };

      g_object_unref (msg);
      done (&result, data);
      return;
    }
  g_autofree char *sig_b64 = g_base64_encode (sig, sizeof sig);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  soup_message_headers_replace (headers, "X-Signature-Ed25519", sig_b64);
  soup_message_headers_replace (headers, "X-Signature-Timestamp", timestamp);
  soup_message_headers_replace (headers, "X-Signature-Key-Id", st_signing_key_get_kid (key));
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  /* libsoup gives a POST a fresh connection unless told it may be sent
   * again: keep-alive needs this. Sending a batch twice is harmless in
   * the rare case libsoup does (a kept-alive connection that broke
   * before any answer): the mids are the same and only one answer is
   * applied. Redirects are not followed: the hook is the URL given. */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT | SOUP_MESSAGE_NO_REDIRECT);

  r = g_new0 (HookRequest, 1);
  r->target = target;
  r->msg = msg;
  r->cancellable = g_cancellable_new ();
  r->timeout_ms = timeout_ms;
  r->limit = MAX ((gsize) ANSWER_MIN_LIMIT, 4 * body_len);
  r->done = done;
  r->data = data;
  r->timer = g_timeout_source_new (MAX (timeout_ms, 1));
  g_source_set_callback (r->timer, request_timeout, r, NULL);
  g_source_attach (r->timer, g_main_context_get_thread_default ());
  g_ptr_array_add (target->requests, r);
  soup_session_send_async (target->session, msg, G_PRIORITY_DEFAULT, r->cancellable,
                           request_sent, r);
}
