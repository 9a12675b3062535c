#define G_LOG_DOMAIN "starlingctl"

/* starlingctl ca — the local CA certificate that signs the brokers' TLS
 * certificates, so MQTT clients can be told to trust it:
 *   starlingctl ca > starling-ca.pem */

#include "ctl-private.h"

#include <stdio.h>
#include <string.h>

static int
ca_run (CtlContext *ctx, char **args)
{
  g_autofree char *pem = NULL;
  g_autoptr(GError) error = NULL;

  pem = st_api_client_get_ca (ctx->client, NULL, &error);
  if (pem == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    {
      /* The route answers PEM, not JSON: --json gets it as a JSON string. */
      g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), pem);
      ctl_print_json (node);
    }
  else
    {
      fputs (pem, stdout);
      if (*pem != '\0' && pem[strlen (pem) - 1] != '\n')
        fputc ('\n', stdout);
    }
  return CTL_EXIT_OK;
}

static const CtlCommand ca_command = {
  "ca", NULL, "Print the local CA certificate (PEM) that signs the brokers' TLS certificates",
  NULL, NULL, ca_run,
};

const CtlGroup ctl_ca_group = {
  "ca", "Print the local CA certificate (PEM)", NULL, &ca_command,
};
