/* st-bytes.h — immutable, reference-counted byte strings.
 *
 * A published payload is stored once as an StBytes and shared by every
 * subscriber's queue and output until the last reference goes. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  gatomicrefcount ref;
  uint32_t        len;
  uint8_t         data[];
} StBytes;

StBytes *st_bytes_new   (const void *data, size_t len);
StBytes *st_bytes_ref   (StBytes *b);
void     st_bytes_unref (StBytes *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StBytes, st_bytes_unref)
