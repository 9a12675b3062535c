#define G_LOG_DOMAIN "starling-subtree"

#include "st-subtree.h"

#include <string.h>

typedef struct _Node Node;

typedef struct {
  void          *owner;
  MqttSubOptions opts;
  uint32_t       id;
} Sub;

/* Members in subscription order; `next` is where the round robin resumes. */
typedef struct {
  GPtrArray *members; /* Sub* */
  guint      next;
} Group;

struct _Node {
  Node       *parent;
  char       *level;     /* key in parent->children; NULL for the root */
  GHashTable *children;  /* level -> Node*, created on demand */
  GHashTable *subs;      /* owner -> Sub*, non-shared, created on demand */
  GHashTable *groups;    /* group name -> Group*, created on demand */
};

struct _StSubtree {
  Node              root;
  StOwnerOnlineFunc online;
  guint             count;
};

static void
group_free (gpointer p)
{
  Group *g = p;

  g_ptr_array_unref (g->members);
  g_free (g);
}

static void
node_free (gpointer p)
{
  Node *n = p;

  g_clear_pointer (&n->children, g_hash_table_unref);
  g_clear_pointer (&n->subs, g_hash_table_unref);
  g_clear_pointer (&n->groups, g_hash_table_unref);
  g_free (n->level);
  g_free (n);
}

void
st_match_result_init (StMatchResult *r)
{
  r->matches = g_array_new (FALSE, FALSE, sizeof (StMatch));
  r->ids = g_array_new (FALSE, FALSE, sizeof (uint32_t));
  r->pairs = g_array_new (FALSE, FALSE, sizeof (uint32_t) * 2);
  r->index = g_hash_table_new (NULL, NULL);
  r->topic = g_string_new (NULL);
}

void
st_match_result_clear (StMatchResult *r)
{
  g_clear_pointer (&r->matches, g_array_unref);
  g_clear_pointer (&r->ids, g_array_unref);
  g_clear_pointer (&r->pairs, g_array_unref);
  g_clear_pointer (&r->index, g_hash_table_unref);
  if (r->topic)
    g_string_free (r->topic, TRUE);
  r->topic = NULL;
}

StSubtree *
st_subtree_new (StOwnerOnlineFunc online)
{
  StSubtree *tree = g_new0 (StSubtree, 1);

  tree->online = online;
  return tree;
}

void
st_subtree_free (StSubtree *tree)
{
  if (!tree)
    return;
  g_clear_pointer (&tree->root.children, g_hash_table_unref);
  g_clear_pointer (&tree->root.subs, g_hash_table_unref);
  g_clear_pointer (&tree->root.groups, g_hash_table_unref);
  g_free (tree);
}

guint
st_subtree_count (StSubtree *tree)
{
  return tree->count;
}

bool
st_filter_split_shared (MqttBytes filter, MqttBytes *group, MqttBytes *rest)
{
  static const char prefix[] = "$share/";
  const size_t plen = sizeof prefix - 1;

  if (filter.len <= plen || memcmp (filter.data, prefix, plen) != 0)
    return false;

  const uint8_t *g = filter.data + plen;
  const uint8_t *end = filter.data + filter.len;
  const uint8_t *slash = memchr (g, '/', end - g);

  if (!slash)
    return false;
  group->data = g;
  group->len = slash - g;
  rest->data = slash + 1;
  rest->len = end - (slash + 1);
  return true;
}

/* Walks (creating when create) the node for a filter's levels. */
static Node *
find_node (StSubtree *tree, MqttBytes filter, bool create)
{
  Node *n = &tree->root;
  const uint8_t *p = filter.data;
  const uint8_t *end = filter.data + filter.len;

  for (;;)
    {
      const uint8_t *slash = memchr (p, '/', end - p);
      const uint8_t *lend = slash ? slash : end;
      g_autofree char *level = g_strndup ((const char *) p, lend - p);
      Node *child = n->children ? g_hash_table_lookup (n->children, level) : NULL;

      if (!child)
        {
          if (!create)
            return NULL;
          if (!n->children)
            n->children = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, node_free);
          child = g_new0 (Node, 1);
          child->parent = n;
          child->level = g_steal_pointer (&level);
          g_hash_table_insert (n->children, child->level, child);
        }
      n = child;
      if (!slash)
        return n;
      p = slash + 1;
    }
}

static bool
node_empty (Node *n)
{
  return (!n->children || g_hash_table_size (n->children) == 0)
         && (!n->subs || g_hash_table_size (n->subs) == 0)
         && (!n->groups || g_hash_table_size (n->groups) == 0);
}

static void
prune (Node *n)
{
  while (n->parent && node_empty (n))
    {
      Node *parent = n->parent;

      g_hash_table_remove (parent->children, n->level); /* frees n */
      n = parent;
    }
}

bool
st_subtree_add (StSubtree            *tree,
                void                 *owner,
                MqttBytes             filter,
                const MqttSubOptions *opts,
                uint32_t              sub_id)
{
  MqttBytes group_name, rest;
  bool shared = st_filter_split_shared (filter, &group_name, &rest);
  Node *n = find_node (tree, shared ? rest : filter, true);

  if (!shared)
    {
      if (!n->subs)
        n->subs = g_hash_table_new_full (NULL, NULL, NULL, g_free);
      Sub *s = g_hash_table_lookup (n->subs, owner);
      bool is_new = s == NULL;

      if (is_new)
        {
          s = g_new0 (Sub, 1);
          s->owner = owner;
          g_hash_table_insert (n->subs, owner, s);
          tree->count++;
        }
      s->opts = *opts;
      s->id = sub_id;
      return is_new;
    }

  g_autofree char *name = g_strndup ((const char *) group_name.data, group_name.len);
  if (!n->groups)
    n->groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, group_free);
  Group *g = g_hash_table_lookup (n->groups, name);
  if (!g)
    {
      g = g_new0 (Group, 1);
      g->members = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (n->groups, g_steal_pointer (&name), g);
    }
  for (guint i = 0; i < g->members->len; i++)
    {
      Sub *s = g_ptr_array_index (g->members, i);

      if (s->owner == owner)
        {
          s->opts = *opts;
          s->id = sub_id;
          return false;
        }
    }
  Sub *s = g_new0 (Sub, 1);
  s->owner = owner;
  s->opts = *opts;
  s->id = sub_id;
  g_ptr_array_add (g->members, s);
  tree->count++;
  return true;
}

bool
st_subtree_remove (StSubtree *tree, void *owner, MqttBytes filter)
{
  MqttBytes group_name, rest;
  bool shared = st_filter_split_shared (filter, &group_name, &rest);
  Node *n = find_node (tree, shared ? rest : filter, false);
  bool found = false;

  if (!n)
    return false;
  if (!shared)
    found = n->subs && g_hash_table_remove (n->subs, owner);
  else if (n->groups)
    {
      g_autofree char *name = g_strndup ((const char *) group_name.data, group_name.len);
      Group *g = g_hash_table_lookup (n->groups, name);

      for (guint i = 0; g && i < g->members->len; i++)
        {
          Sub *s = g_ptr_array_index (g->members, i);

          if (s->owner == owner)
            {
              /* keep the round robin where it was relative to the others */
              if (g->next > i)
                g->next--;
              g_ptr_array_remove_index (g->members, i);
              found = true;
              break;
            }
        }
      if (g && g->members->len == 0)
        g_hash_table_remove (n->groups, name);
    }
  if (found)
    tree->count--;
  prune (n);
  return found;
}

/* ---- matching ----------------------------------------------------------- */

typedef struct {
  StSubtree     *tree;
  StMatchResult *out;
  const void    *publisher;
} MatchCtx;

static void
add_pair (MatchCtx *ctx, guint idx, uint32_t id)
{
  uint32_t pair[2] = { idx, id };

  g_array_append_vals (ctx->out->pairs, pair, 1);
}

static void
collect (MatchCtx *ctx, Node *n)
{
  if (n->subs)
    {
      GHashTableIter it;
      gpointer v;

      g_hash_table_iter_init (&it, n->subs);
      while (g_hash_table_iter_next (&it, NULL, &v))
        {
          Sub *s = v;
          gpointer found;
          guint idx;

          if (s->opts.no_local && s->owner == ctx->publisher)
            continue;
          if (g_hash_table_lookup_extended (ctx->out->index, s->owner, NULL, &found))
            {
              StMatch *m;

              idx = GPOINTER_TO_UINT (found);
              m = &g_array_index (ctx->out->matches, StMatch, idx);
              if (s->opts.qos > m->qos)
                m->qos = s->opts.qos;
              m->retain_as_published |= s->opts.retain_as_published;
            }
          else
            {
              StMatch m = { .owner = s->owner, .qos = s->opts.qos,
                            .retain_as_published = s->opts.retain_as_published };

              idx = ctx->out->matches->len;
              g_array_append_val (ctx->out->matches, m);
              g_hash_table_insert (ctx->out->index, s->owner, GUINT_TO_POINTER (idx));
            }
          if (s->id)
            add_pair (ctx, idx, s->id);
        }
    }

  if (n->groups)
    {
      GHashTableIter it;
      gpointer v;

      g_hash_table_iter_init (&it, n->groups);
      while (g_hash_table_iter_next (&it, NULL, &v))
        {
          Group *g = v;
          guint len = g->members->len;
          guint start = g->next % len;
          guint pick = start;

          for (guint k = 0; k < len; k++)
            {
              guint j = (start + k) % len;
              Sub *s = g_ptr_array_index (g->members, j);

              if (!ctx->tree->online || ctx->tree->online (s->owner))
                {
                  pick = j;
                  break;
                }
            }
          g->next = pick + 1;

          Sub *s = g_ptr_array_index (g->members, pick);
          StMatch m = { .owner = s->owner, .qos = s->opts.qos,
                        .retain_as_published = s->opts.retain_as_published,
                        .shared = true };
          guint idx = ctx->out->matches->len;

          g_array_append_val (ctx->out->matches, m);
          if (s->id)
            add_pair (ctx, idx, s->id);
        }
    }
}

/* levels: the topic with every '/' replaced by '\0'; [p, end) what is left. */
static void
match_node (MatchCtx *ctx, Node *n, const char *p, const char *end, bool first)
{
  if (!n->children)
    return;

  /* A filter starting with a wildcard never matches a '$' topic (4.7.2). */
  bool wild = !(first && *p == '$');
  Node *child;

  if (wild && (child = g_hash_table_lookup (n->children, "#")))
    collect (ctx, child);

  const char *lend = p + strlen (p);
  bool last = lend >= end;

  if (wild && (child = g_hash_table_lookup (n->children, "+")))
    {
      if (last)
        {
          collect (ctx, child);
          /* "a/+/#" matches "a/b" too: '#' includes its parent level. */
          Node *hash = child->children ? g_hash_table_lookup (child->children, "#") : NULL;
          if (hash)
            collect (ctx, hash);
        }
      else
        match_node (ctx, child, lend + 1, end, false);
    }
  if ((child = g_hash_table_lookup (n->children, p)))
    {
      if (last)
        {
          collect (ctx, child);
          Node *hash = child->children ? g_hash_table_lookup (child->children, "#") : NULL;
          if (hash)
            collect (ctx, hash);
        }
      else
        match_node (ctx, child, lend + 1, end, false);
    }
}

void
st_subtree_match (StSubtree     *tree,
                  MqttBytes      topic,
                  const void    *publisher,
                  StMatchResult *out)
{
  MatchCtx ctx = { tree, out, publisher };

  g_array_set_size (out->matches, 0);
  g_array_set_size (out->ids, 0);
  g_array_set_size (out->pairs, 0);
  g_hash_table_remove_all (out->index);
  if (topic.len == 0)
    return;

  g_string_truncate (out->topic, 0);
  g_string_append_len (out->topic, (const char *) topic.data, topic.len);
  for (gsize i = 0; i < out->topic->len; i++)
    if (out->topic->str[i] == '/')
      out->topic->str[i] = '\0';

  match_node (&ctx, &tree->root, out->topic->str, out->topic->str + out->topic->len, true);

  /* Lay out each match's subscription ids contiguously (counting sort). */
  guint n = out->matches->len;
  guint np = out->pairs->len;
  if (np == 0)
    return;
  for (guint i = 0; i < np; i++)
    {
      uint32_t *pair = (uint32_t *) (out->pairs->data + i * sizeof (uint32_t) * 2);
      g_array_index (out->matches, StMatch, pair[0]).n_ids++;
    }
  guint off = 0;
  for (guint i = 0; i < n; i++)
    {
      StMatch *m = &g_array_index (out->matches, StMatch, i);

      m->ids_offset = off;
      off += m->n_ids;
      m->n_ids = 0;
    }
  g_array_set_size (out->ids, np);
  for (guint i = 0; i < np; i++)
    {
      uint32_t *pair = (uint32_t *) (out->pairs->data + i * sizeof (uint32_t) * 2);
      StMatch *m = &g_array_index (out->matches, StMatch, pair[0]);

      g_array_index (out->ids, uint32_t, m->ids_offset + m->n_ids++) = pair[1];
    }
}

bool
st_topic_matches (MqttBytes filter, MqttBytes topic)
{
  const uint8_t *f = filter.data, *t = topic.data;
  size_t fl = filter.len, tl = topic.len;
  size_t fi = 0, ti = 0;

  if (tl && t[0] == '$' && fl && (f[0] == '+' || f[0] == '#'))
    return false;

  for (;;)
    {
      size_t fe = fi, te = ti;

      while (fe < fl && f[fe] != '/')
        fe++;
      if (fe - fi == 1 && f[fi] == '#')
        return true;
      while (te < tl && t[te] != '/')
        te++;
      if (!(fe - fi == 1 && f[fi] == '+')
          && (fe - fi != te - ti || memcmp (f + fi, t + ti, fe - fi) != 0))
        return false;
      if (fe >= fl)
        return te >= tl;
      fi = fe + 1;
      if (te >= tl)
        /* the topic ended: only a last "#" level still matches ("a/#" ~ "a") */
        return fl - fi == 1 && f[fi] == '#';
      ti = te + 1;
    }
}
