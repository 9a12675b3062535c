/* starlingctl — the command line client of the control API, with the
 * commands and flags of `wrangler pubsub`. */
#define G_LOG_DOMAIN "starlingctl"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "ctl-private.h"

#define DEFAULT_API_URL "http://127.0.0.1:8080/client/v4"

static char     *opt_api_url;
static char     *opt_token;
static char     *opt_account_id;
static char     *opt_ca_file;
static gboolean  opt_json;

static const GOptionEntry global_entries[] = {
  { "api-url", 0, 0, G_OPTION_ARG_STRING, &opt_api_url,
    "The control API (default: $STARLING_API_URL, $CLOUDFLARE_API_BASE_URL, else " DEFAULT_API_URL ")", "URL" },
  { "token", 0, 0, G_OPTION_ARG_STRING, &opt_token,
    "The API token (default: $STARLING_API_TOKEN, $CLOUDFLARE_API_TOKEN, else a local starlingd's admin-token file)",
    "TOKEN" },
  { "account-id", 0, 0, G_OPTION_ARG_STRING, &opt_account_id,
    "The account (default: $STARLING_ACCOUNT_ID, $CLOUDFLARE_ACCOUNT_ID, else looked up)", "ID" },
  { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_ca_file,
    "Trust this CA (PEM) for an https:// API URL, besides the system's", "FILE" },
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print the API's result as JSON", NULL },
  { NULL }
};

static const CtlGroup *const groups[] = {
  &ctl_namespace_group,
  &ctl_broker_group,
  &ctl_ca_group,
};

/* Options that take a value as the next argument: skipped while looking
 * for the command words, so "--ns home broker list" finds "broker". */
static const char *const value_options[] = {
  "--api-url", "--token", "--account-id", "--ca-file",
  "--namespace", "--ns", "--description", "--expiration", "--on-publish-url",
  "--auth-type", "--number", "-n", "--type", "--client-id", "--jti", "--topic-acl", "--kid", "--exp",
};

static gboolean
takes_value (const char *arg)
{
  for (guint i = 0; i < G_N_ELEMENTS (value_options); i++)
    if (strcmp (arg, value_options[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
print_main_help (FILE *out)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append (text,
                   "Usage:\n"
                   "  starlingctl [OPTION…] COMMAND [ARGS…]\n\n"
                   "Manage namespaces, brokers and credentials of a Starling server (or Cloudflare\n"
                   "Pub/Sub) through its control API, with the commands of “wrangler pubsub”.\n\n"
                   "Commands:\n");
  for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
    {
      const CtlGroup *group = groups[g];

      if (group->single != NULL)
        {
          g_autofree char *left = g_strdup_printf ("%s%s%s", group->name,
                                                   group->single->parameter ? " " : "",
                                                   group->single->parameter ? group->single->parameter : "");
          g_string_append_printf (text, "  %-34s %s\n", left, group->single->summary);
          continue;
        }
      for (const CtlCommand *c = group->commands; c->name != NULL; c++)
        {
          g_autofree char *left = g_strdup_printf ("%s %s%s%s", group->name, c->name,
                                                   c->parameter ? " " : "", c->parameter ? c->parameter : "");
          g_string_append_printf (text, "  %-34s %s\n", left, c->summary);
        }
    }
  g_string_append (text, "\nOptions (for every command):\n");
  for (const GOptionEntry *e = global_entries; e->long_name != NULL; e++)
    {
      g_autofree char *left = g_strdup_printf ("--%s%s%s", e->long_name, e->arg_description ? " " : "",
                                               e->arg_description ? e->arg_description : "");
      g_string_append_printf (text, "  %-34s %s\n", left, e->description);
    }
  g_string_append_printf (text, "  %-34s %s\n", "--version", "Print the version");
  g_string_append_printf (text, "  %-34s %s\n", "-h, --help", "Show help (also after a command)");
  g_string_append (text,
                   "\nWith no --api-url, --token or environment, starlingctl talks to a starlingd on\n"
                   DEFAULT_API_URL " with the admin token it wrote to\n"
                   "$XDG_DATA_HOME/starling/admin-token.\n"
                   "Run “starlingctl COMMAND … --help” for a command's flags.\n");
  fputs (text->str, out);
}

static void
print_group_help (const CtlGroup *group, FILE *out)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append_printf (text, "Usage:\n  starlingctl %s COMMAND [OPTION…]\n\n%s.\n\nCommands:\n",
                          group->name, group->summary);
  for (const CtlCommand *c = group->commands; c->name != NULL; c++)
    {
      g_autofree char *left = g_strdup_printf ("%s%s%s", c->name, c->parameter ? " " : "",
                                               c->parameter ? c->parameter : "");
      g_string_append_printf (text, "  %-24s %s\n", left, c->summary);
    }
  g_string_append_printf (text, "\nRun “starlingctl %s COMMAND --help” for a command's flags.\n", group->name);
  fputs (text->str, out);
}

static const char *
first_env (const char *a, const char *b)
{
  const char *value = g_getenv (a);

  if (value != NULL && *value != '\0')
    return value;
  value = g_getenv (b);
  if (value != NULL && *value != '\0')
    return value;
  return NULL;
}

/* "127.0.0.1:8080", "http://host:8080/", "https://host/client/v4" →
 * a base URL ending in /client/v4. */
static char *
normalize_url (const char *url, GError **error)
{
  g_autofree char *text = g_strstrip (g_strdup (url));
  g_autoptr(GUri) uri = NULL;
  gsize len;

  if (strstr (text, "://") == NULL)
    {
      char *with_scheme = g_strconcat ("http://", text, NULL);
      g_free (text);
      text = with_scheme;
    }
  len = strlen (text);
  while (len > 0 && text[len - 1] == '/')
    text[--len] = '\0';
  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL ||
      (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” is not an API URL (e.g. http://127.0.0.1:8080/client/v4)", url);
      return NULL;
    }
  if (g_str_has_suffix (text, "/client/v4"))
    return g_steal_pointer (&text);
  return g_strconcat (text, "/client/v4", NULL);
}

static gboolean
url_is_loopback (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GInetAddress) addr = NULL;
  g_autofree char *host = NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return FALSE;
  host = g_strdup (g_uri_get_host (uri));
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  addr = g_inet_address_new_from_string (host);
  return addr != NULL && g_inet_address_get_is_loopback (addr);
}

/* The admin token a local starlingd wrote, if this user can read it.
 * Only ever sent to a loopback URL: it must not leave the machine. */
static char *
read_admin_token (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "starling", "admin-token", NULL);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  g_strstrip (text);
  if (*text == '\0')
    return NULL;
  return g_steal_pointer (&text);
}

static StApiClient *
make_client (GError **error)
{
  const char *url = opt_api_url ? opt_api_url : first_env ("STARLING_API_URL", "CLOUDFLARE_API_BASE_URL");
  const char *token = opt_token ? opt_token : first_env ("STARLING_API_TOKEN", "CLOUDFLARE_API_TOKEN");
  const char *account = opt_account_id ? opt_account_id : first_env ("STARLING_ACCOUNT_ID", "CLOUDFLARE_ACCOUNT_ID");
  g_autofree char *base = normalize_url (url ? url : DEFAULT_API_URL, error);
  g_autofree char *file_token = NULL;
  g_autoptr(StApiClient) client = NULL;

  if (base == NULL)
    return NULL;
  if (token == NULL && url_is_loopback (base))
    token = file_token = read_admin_token ();
  client = st_api_client_new (base, token, account);
  if (opt_ca_file != NULL && !st_api_client_set_ca_file (client, opt_ca_file, error))
    return NULL;
  if (file_token != NULL)
    memset (file_token, 0, strlen (file_token));
  return g_steal_pointer (&client);
}

static int
usage_error (CtlContext *ctx, const char *message)
{
  g_printerr ("starlingctl: %s\n", message);
  if (ctx->command != NULL && strcmp (ctx->group, ctx->command) != 0)
    g_printerr ("Try “starlingctl %s %s --help”.\n", ctx->group, ctx->command);
  else if (ctx->group != NULL)
    g_printerr ("Try “starlingctl %s --help”.\n", ctx->group);
  else
    g_printerr ("Try “starlingctl --help”.\n");
  return CTL_EXIT_USAGE;
}

static int
run_command (CtlContext *ctx, const CtlCommand *command, int argc, char **argv)
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *parameter = NULL;
  g_autofree char *summary = NULL;
  guint wanted = command->parameter ? 1 : 0;

  ctx->command = command->name;
  if (strcmp (ctx->group, command->name) == 0)
    parameter = g_strdup_printf ("%s%s%s", ctx->group, command->parameter ? " " : "",
                                 command->parameter ? command->parameter : "");
  else
    parameter = g_strdup_printf ("%s %s%s%s", ctx->group, command->name, command->parameter ? " " : "",
                                 command->parameter ? command->parameter : "");
  options = g_option_context_new (parameter);
  summary = g_strdup_printf ("%s.", command->summary);
  g_option_context_set_summary (options, summary);
  if (command->entries != NULL)
    g_option_context_add_main_entries (options, command->entries, NULL);
  g_option_context_add_main_entries (options, global_entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return usage_error (ctx, error->message);

  /* argv[0] is the program; what is left are the command's arguments. */
  if ((guint) (argc - 1) != wanted)
    {
      g_autofree char *message = NULL;

      if ((guint) (argc - 1) < wanted)
        message = g_strdup_printf ("%s %s: %s is missing", ctx->group, command->name, command->parameter);
      else
        message = g_strdup_printf ("%s %s: unexpected argument “%s”", ctx->group, command->name,
                                   argv[1 + wanted]);
      return usage_error (ctx, message);
    }
  if (wanted == 1 && *argv[1] == '\0')
    {
      g_autofree char *message = g_strdup_printf ("%s %s: %s must not be empty", ctx->group,
                                                  command->name, command->parameter);
      return usage_error (ctx, message);
    }
  ctx->json = opt_json;
  if (command->check != NULL && !command->check (ctx, argv + 1, &error))
    return usage_error (ctx, error->message);

  ctx->client = make_client (&error);
  if (ctx->client == NULL)
    return usage_error (ctx, error->message);
  return command->run (ctx, argv + 1);
}

int
main (int argc, char **argv)
{
  CtlContext ctx = { 0 };
  const CtlGroup *group = NULL;
  const CtlCommand *command = NULL;
  int group_at = -1, command_at = -1;
  gboolean help = FALSE, version = FALSE;
  g_autoptr(GPtrArray) rest = NULL;
  int status;

  setlocale (LC_ALL, "");
  g_set_prgname ("starlingctl");

  /* The command words are the first two arguments that are not options
   * (nor an option's value); everything else goes to the command's own
   * GOptionContext, global options included. */
  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];

      if (strcmp (arg, "--") == 0)
        break;
      if (arg[0] == '-' && arg[1] != '\0')
        {
          if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0 || strcmp (arg, "-?") == 0)
            help = TRUE;
          else if (strcmp (arg, "--version") == 0)
            version = TRUE;
          else if (takes_value (arg) && i + 1 < argc)
            i++;
          continue;
        }
      if (group_at < 0)
        group_at = i;
      else if (command_at < 0)
        {
          command_at = i;
          break;
        }
    }

  if (version && group_at < 0)
    {
      printf ("starlingctl %s\n", VERSION);
      return CTL_EXIT_OK;
    }
  if (group_at < 0)
    {
      print_main_help (help ? stdout : stderr);
      return help ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    }
  if (strcmp (argv[group_at], "help") == 0)
    {
      /* "starlingctl help [GROUP]" */
      for (guint g = 0; command_at >= 0 && g < G_N_ELEMENTS (groups); g++)
        if (strcmp (groups[g]->name, argv[command_at]) == 0 && groups[g]->single == NULL)
          {
            print_group_help (groups[g], stdout);
            return CTL_EXIT_OK;
          }
      print_main_help (stdout);
      return CTL_EXIT_OK;
    }

  for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
    if (strcmp (groups[g]->name, argv[group_at]) == 0)
      group = groups[g];
  if (group == NULL)
    {
      g_autofree char *message = g_strdup_printf ("unknown command “%s”", argv[group_at]);
      return usage_error (&ctx, message);
    }
  ctx.group = group->name;

  if (group->single != NULL)
    {
      command = group->single;
      command_at = -1;
    }
  else
    {
      if (command_at < 0)
        {
          print_group_help (group, help ? stdout : stderr);
          return help ? CTL_EXIT_OK : CTL_EXIT_USAGE;
        }
      for (const CtlCommand *c = group->commands; c->name != NULL; c++)
        if (strcmp (c->name, argv[command_at]) == 0)
          command = c;
      if (command == NULL)
        {
          g_autofree char *message = g_strdup_printf ("unknown command “%s %s”", group->name,
                                                      argv[command_at]);
          return usage_error (&ctx, message);
        }
    }

  rest = g_ptr_array_new ();
  for (int i = 0; i < argc; i++)
    if (i != group_at && i != command_at)
      g_ptr_array_add (rest, argv[i]);
  g_ptr_array_add (rest, NULL);

  status = run_command (&ctx, command, (int) rest->len - 1, (char **) rest->pdata);
  g_clear_object (&ctx.client);
  return status;
}
