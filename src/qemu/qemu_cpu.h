/*
 * qemu_cpu.h: the live guest CPU, as libvirt 9.0 records it after a start.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "conf/domain_conf.h"

/*
 * For a custom-model CPU: add a policy='require' feature for every CPUID feature the vCPU
 * has beyond its model and policy='disable' for every model feature it lacks (named with
 * libvirt's CPU map, /usr/share/libvirt/cpu_map or $QVIRT_CPU_MAP_DIR), then set check to
 * 'full'. FEATUREWORDS and FILTEREDFEATURES are the vCPU's qom-get replies. Nothing
 * changes for other modes, or when the map or the model is not there.
 */
gboolean qemuCPUUpdateLive(qvirDomainDef *def, JsonNode *featureWords, JsonNode *filteredFeatures,
                           GError **error);
