/* st-store-private.h — for tests only: open with a chosen migration list
 * and inject a failure (or a crash) just before a transaction commits. */
#pragma once

#include "st-store.h"

G_BEGIN_DECLS

/* Called inside every write transaction (migrations included), after its
 * statements ran and before COMMIT.  Returning FALSE rolls the transaction
 * back and the operation fails with ST_STORE_ERROR_FAILED.  A test may also
 * _exit() here to model a crash in the middle of a transaction. */
typedef gboolean (*StStoreFaultHook) (gpointer data);

extern const char *const st_store_migrations[];
extern const guint st_store_n_migrations;

StStore *st_store_open_full       (const char        *path,
                                   const char *const *migrations,
                                   guint              n_migrations,
                                   StStoreFaultHook   hook,
                                   gpointer           hook_data,
                                   GError           **error);
void     st_store_set_fault_hook  (StStore          *self,
                                   StStoreFaultHook  hook,
                                   gpointer          hook_data);

G_END_DECLS
