/*
 * qemu_command.c: the QEMU argv and environment for a prepared domain, in libvirt
 * 9.0's order and spelling (the .x86_64-latest.args files of its qemuxml2argv tests), with the
 * legacy -drive form for binaries without -blockdev.
 */
#include "qemu/qemu_command.h"

#include <string.h>

#include "qemu/qemu_block.h"
#include "qemu/qemu_domain.h"
#include "util/virerror.h"
#include "util/virsocketaddr.h"

typedef struct {
    const qvirDomainDef *def;
    const qemuCaps *caps;
    const qemuBuildCommandLineOpts *opts;
    qemuCommandLine *cmd;
    qemuDomainMachineKind kind;
    gboolean json;     /* -object / -device / -netdev / -audiodev as JSON */
    gboolean blockdev; /* -blockdev, else legacy -drive */
    guint usbPort;     /* next USB port, handed out in libvirt's order */
    guint fdset;       /* next -add-fd set */
} qemuBuildCtx;

void
qemuCommandLineFree(qemuCommandLine *cmd)
{
    if (!cmd)
        return;
    if (cmd->env)
        g_ptr_array_unref(cmd->env);
    if (cmd->argv)
        g_ptr_array_unref(cmd->argv);
    g_free(cmd);
}

static void
qemuBuildArg(qemuBuildCtx *ctx, const char *arg)
{
    g_ptr_array_add(ctx->cmd->argv, g_strdup(arg));
}

static void
qemuBuildArgPair(qemuBuildCtx *ctx, const char *opt, const char *val)
{
    qemuBuildArg(ctx, opt);
    qemuBuildArg(ctx, val);
}

G_GNUC_PRINTF(3, 4)
static void
qemuBuildArgf(qemuBuildCtx *ctx, const char *opt, const char *fmt, ...)
{
    va_list ap;
    char *val;

    va_start(ap, fmt);
    val = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qemuBuildArg(ctx, opt);
    g_ptr_array_add(ctx->cmd->argv, val);
}

/* QEMU's option syntax escapes a comma by doubling it. */
static void
qemuBuildAppendEscaped(GString *buf, const char *str)
{
    for (const char *p = str; *p; p++) {
        if (*p == ',')
            g_string_append_c(buf, ',');
        g_string_append_c(buf, *p);
    }
}

/* JSON object -> "first,key=value,..." for binaries without JSON -device/-object.
 * FIRSTKEY's value is written bare (the device driver / object type). */
static char *
qemuBuildJSONToKeyval(JsonObject *obj, const char *firstKey)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    g_autoptr(GList) members = json_object_get_members(obj);

    if (firstKey && json_object_has_member(obj, firstKey))
        qemuBuildAppendEscaped(buf, json_object_get_string_member(obj, firstKey));
    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        JsonNode *val = json_object_get_member(obj, key);

        if (firstKey && strcmp(key, firstKey) == 0)
            continue;
        if (buf->len)
            g_string_append_c(buf, ',');
        g_string_append_printf(buf, "%s=", key);
        if (JSON_NODE_HOLDS_VALUE(val)) {
            GType t = json_node_get_value_type(val);

            if (t == G_TYPE_BOOLEAN)
                g_string_append(buf, json_node_get_boolean(val) ? "on" : "off");
            else if (t == G_TYPE_INT64)
                g_string_append_printf(buf, "%" G_GINT64_FORMAT, json_node_get_int(val));
            else
                qemuBuildAppendEscaped(buf, json_node_get_string(val));
        }
    }
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

/* -device / -object / -netdev / -audiodev with OBJ (consumed). */
static void
qemuBuildObjectArg(qemuBuildCtx *ctx, const char *opt, JsonObject *obj, const char *firstKey)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    if (ctx->json)
        g_ptr_array_add(ctx->cmd->argv, qemuBlockJSONToString(node));
    else
        g_ptr_array_add(ctx->cmd->argv, qemuBuildJSONToKeyval(obj, firstKey));
    g_ptr_array_insert(ctx->cmd->argv, ctx->cmd->argv->len - 1, g_strdup(opt));
}

static void
qemuBuildDevice(qemuBuildCtx *ctx, JsonObject *props)
{
    qemuBuildObjectArg(ctx, "-device", props, "driver");
}

/* ---- addresses -------------------------------------------------------------------- */

static const qvirDomainControllerDef *
qemuBuildFindController(qemuBuildCtx *ctx, qvirDomainControllerType type, int idx)
{
    return qemuDomainFindController(ctx->def, type, idx);
}

static char *
qemuBuildPCIBusName(qemuBuildCtx *ctx, unsigned int bus)
{
    const qvirDomainControllerDef *c =
        qemuBuildFindController(ctx, QVIR_DOMAIN_CONTROLLER_TYPE_PCI, bus);

    if (c && c->info.alias)
        return g_strdup(c->info.alias);
    if (bus == 0)
        return g_strdup(ctx->kind == QEMU_DOMAIN_MACHINE_Q35 ? "pcie.0" : "pci.0");
    return g_strdup_printf("pci.%u", bus);
}

static void
qemuBuildPCIAddressProps(qemuBuildCtx *ctx, JsonObject *props, const qvirDomainDeviceInfo *info)
{
    const qvirPCIDeviceAddress *a = &info->addr.pci;

    if (info->type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI)
        return;
    qemuJSONSetStrFree(props, "bus", qemuBuildPCIBusName(ctx, a->bus));
    if (a->multifunction != QVIR_TRISTATE_SWITCH_ABSENT)
        json_object_set_boolean_member(props, "multifunction",
                                       a->multifunction == QVIR_TRISTATE_SWITCH_ON);
    if (a->function)
        qemuJSONSetStrFree(props, "addr", g_strdup_printf("0x%x.0x%x", a->slot, a->function));
    else
        qemuJSONSetStrFree(props, "addr", g_strdup_printf("0x%x", a->slot));
    if (info->acpiIndex)
        json_object_set_int_member(props, "acpi-index", info->acpiIndex);
}

static void
qemuBuildUSBAddressProps(qemuBuildCtx *ctx, const qvirDomainDeviceInfo *info, JsonObject *props)
{
    g_autofree char *port =
        info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB && info->addr.usb.port[0]
            ? g_strdup(info->addr.usb.port)
            : g_strdup_printf("%u", ctx->usbPort++);

    unsigned int bus = info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB ? info->addr.usb.bus : 0;
    const qvirDomainControllerDef *usb =
        qemuBuildFindController(ctx, QVIR_DOMAIN_CONTROLLER_TYPE_USB, bus);

    /* the root hub of the master controller with the bus's index */
    qemuJSONSetStrFree(props, "bus",
                       g_strdup_printf("%s.0", usb && usb->info.alias ? usb->info.alias : "usb"));
    json_object_set_string_member(props, "port", port);
}

/* ---- boot order --------------------------------------------------------------------- */

static qvirDomainBootOrder
qemuBuildDiskBootKind(const qvirDomainDiskDef *disk)
{
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM)
        return QVIR_DOMAIN_BOOT_CDROM;
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_FLOPPY)
        return QVIR_DOMAIN_BOOT_FLOPPY;
    return QVIR_DOMAIN_BOOT_DISK;
}

/* libvirt turns <os><boot dev=.../> into bootindex on the first device of each kind. */
static unsigned int
qemuBuildDiskBootIndex(const qvirDomainDef *def, const qvirDomainDiskDef *disk)
{
    qvirDomainBootOrder want;
    unsigned int pos = 0;

    if (qvirDomainDefHasDeviceBootOrder(def))
        return disk->info.bootIndex;
    want = qemuBuildDiskBootKind(disk);
    for (unsigned int i = 0; i < def->os.nBootDevs && i < QVIR_DOMAIN_BOOT_LAST; i++) {
        if (def->os.boot[i] == want)
            pos = i + 1;
    }
    if (!pos)
        return 0;
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (qemuBuildDiskBootKind(d) == want)
            return d == disk ? pos : 0;
    }
    return 0;
}

static unsigned int
qemuBuildNetBootIndex(const qvirDomainDef *def, guint netIdx)
{
    const qvirDomainNetDef *net = g_ptr_array_index(def->nets, netIdx);

    if (qvirDomainDefHasDeviceBootOrder(def))
        return net->info.bootIndex;
    if (netIdx != 0)
        return 0;
    for (unsigned int i = 0; i < def->os.nBootDevs && i < QVIR_DOMAIN_BOOT_LAST; i++) {
        if (def->os.boot[i] == QVIR_DOMAIN_BOOT_NET)
            return i + 1;
    }
    return 0;
}

/* ---- the head of the command line ---------------------------------------------------- */

static void
qemuBuildEnv(qemuBuildCtx *ctx)
{
    GPtrArray *env = ctx->cmd->env;
    const char *dir = ctx->opts->domainDir;

    g_ptr_array_add(env, g_strdup("LC_ALL=C"));
    g_ptr_array_add(env, g_strdup_printf("PATH=%s", ctx->opts->envPath
                                                        ? ctx->opts->envPath
                                                        : "/usr/local/sbin:/usr/local/bin:"
                                                          "/usr/sbin:/usr/bin:/sbin:/bin"));
    if (dir)
        g_ptr_array_add(env, g_strdup_printf("HOME=%s", dir));
    g_ptr_array_add(env, g_strdup_printf("USER=%s", ctx->opts->envUser ? ctx->opts->envUser
                                                                       : g_get_user_name()));
    g_ptr_array_add(env, g_strdup_printf("LOGNAME=%s", ctx->opts->envUser ? ctx->opts->envUser
                                                                          : g_get_user_name()));
    if (dir) {
        g_ptr_array_add(env, g_strdup_printf("XDG_DATA_HOME=%s/.local/share", dir));
        g_ptr_array_add(env, g_strdup_printf("XDG_CACHE_HOME=%s/.cache", dir));
        g_ptr_array_add(env, g_strdup_printf("XDG_CONFIG_HOME=%s/.config", dir));
    }
}

static void
qemuBuildName(qemuBuildCtx *ctx)
{
    g_autoptr(GString) buf = g_string_new("guest=");

    qemuBuildAppendEscaped(buf, ctx->def->name);
    g_string_append(buf, ",debug-threads=on");
    qemuBuildArgPair(ctx, "-name", buf->str);
}

char *
qemuBuildMasterKeyPath(const char *domainDir)
{
    return g_build_filename(domainDir, "master-key.aes", NULL);
}

static void
qemuBuildMasterKey(qemuBuildCtx *ctx)
{
    JsonObject *obj;

    if (!ctx->opts->domainDir || ctx->opts->noMasterKey)
        return;
    obj = json_object_new();
    json_object_set_string_member(obj, "qom-type", "secret");
    json_object_set_string_member(obj, "id", "masterKey0");
    json_object_set_string_member(obj, "format", "raw");
    qemuJSONSetStrFree(obj, "file", qemuBuildMasterKeyPath(ctx->opts->domainDir));
    qemuBuildObjectArg(ctx, "-object", obj, "qom-type");
}

static const qvirDomainTimerDef *
qemuBuildFindTimer(const qvirDomainDef *def, qvirDomainTimerName name)
{
    for (unsigned int i = 0; i < def->ntimers && i < QVIR_DOMAIN_TIMER_LAST; i++) {
        if (def->timers[i].name == name)
            return &def->timers[i];
    }
    return NULL;
}

static void
qemuBuildMachine(qemuBuildCtx *ctx)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    const char *machine = ctx->def->os.machine;
    const qvirDomainTimerDef *hpet;

    if (!machine)
        machine = qemuCapsGetCanonicalMachine(ctx->caps, "pc");
    qemuBuildAppendEscaped(buf, machine ? machine : "pc");
    g_string_append(buf, ",usb=off");
    if (ctx->def->vmport != QVIR_TRISTATE_SWITCH_ABSENT)
        g_string_append_printf(buf, ",vmport=%s", qvirTristateSwitchTypeToString(ctx->def->vmport));
    if (ctx->def->smm != QVIR_TRISTATE_SWITCH_ABSENT)
        g_string_append_printf(buf, ",smm=%s", qvirTristateSwitchTypeToString(ctx->def->smm));
    g_string_append(buf, ",dump-guest-core=off");
    if (ctx->json)
        g_string_append(buf, ",memory-backend=pc.ram");
    /* x86 firmware then writes its console to the serial port (libvirt's useserial) */
    if (ctx->def->os.useserial == QVIR_TRISTATE_BOOL_YES)
        g_string_append(buf, ",graphics=off");
    if ((hpet = qemuBuildFindTimer(ctx->def, QVIR_DOMAIN_TIMER_HPET)) &&
        hpet->present != QVIR_TRISTATE_BOOL_ABSENT &&
        qemuCapsGet(ctx->caps, QEMU_CAPS_MACHINE_HPET))
        g_string_append_printf(buf, ",hpet=%s",
                               hpet->present == QVIR_TRISTATE_BOOL_YES ? "on" : "off");
    qemuBuildArgPair(ctx, "-machine", buf->str);
    qemuBuildArgPair(ctx, "-accel", ctx->def->virtType == QVIR_DOMAIN_VIRT_KVM ? "kvm" : "tcg");
    if (ctx->def->tsegBytes)
        qemuBuildArgf(ctx, "-global", "mch.extended-tseg-mbytes=%llu", ctx->def->tsegBytes >> 20);
}

/* libvirt's CPU map spells some x86 features the old way; QEMU takes the new names
 * (virQEMUCapsCPUFeaturesX86). */
static const struct {
    const char *libvirt;
    const char *qemu;
} qemuBuildCPUFeatureNames[] = {
    {"cmp_legacy", "cmp-legacy"},       {"ds_cpl", "ds-cpl"},
    {"fxsr_opt", "fxsr-opt"},           {"kvm_pv_eoi", "kvm-pv-eoi"},
    {"kvm_pv_unhalt", "kvm-pv-unhalt"}, {"lahf_lm", "lahf-lm"},
    {"nodeid_msr", "nodeid-msr"},       {"pclmuldq", "pclmulqdq"},
    {"perfctr_core", "perfctr-core"},   {"perfctr_nb", "perfctr-nb"},
    {"tsc_adjust", "tsc-adjust"},
};

static const char *
qemuBuildCPUFeatureName(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qemuBuildCPUFeatureNames); i++) {
        if (strcmp(name, qemuBuildCPUFeatureNames[i].libvirt) == 0)
            return qemuBuildCPUFeatureNames[i].qemu;
    }
    return name;
}

/* KVM's paravirtual features, after the model's, in libvirt's order: the kvmclock timer,
 * PV EOI (<apic eoi=>), PV unhalt (<pvspinlock>). */
static void
qemuBuildCPUParavirt(qemuBuildCtx *ctx, GString *buf)
{
    const qvirDomainTimerDef *kvmclock = qemuBuildFindTimer(ctx->def, QVIR_DOMAIN_TIMER_KVMCLOCK);

    if (kvmclock && kvmclock->present != QVIR_TRISTATE_BOOL_ABSENT)
        g_string_append_printf(buf, ",kvmclock=%s",
                               kvmclock->present == QVIR_TRISTATE_BOOL_YES ? "on" : "off");
    if (ctx->def->apicEoi != QVIR_TRISTATE_SWITCH_ABSENT)
        g_string_append_printf(buf, ",kvm-pv-eoi=%s",
                               qvirTristateSwitchTypeToString(ctx->def->apicEoi));
    if (ctx->def->pvspinlock != QVIR_TRISTATE_SWITCH_ABSENT)
        g_string_append_printf(buf, ",kvm-pv-unhalt=%s",
                               qvirTristateSwitchTypeToString(ctx->def->pvspinlock));
}

static void
qemuBuildCPU(qemuBuildCtx *ctx)
{
    const char *mode = ctx->def->cpuMode;
    const char *model = "qemu64";

    if (g_strcmp0(mode, "host-passthrough") == 0 || g_strcmp0(mode, "host-model") == 0)
        model = "host";
    else if (g_strcmp0(mode, "maximum") == 0)
        model = "max";
    else if (g_strcmp0(mode, "custom") == 0 && ctx->def->cpuModel)
        model = ctx->def->cpuModel;
    {
        g_autoptr(GString) buf = g_string_new(model);

        /* QEMU 7.2's migratable property of the host and max models */
        if (ctx->def->cpuMigratable &&
            (g_strcmp0(mode, "host-passthrough") == 0 || g_strcmp0(mode, "maximum") == 0))
            g_string_append_printf(buf, ",migratable=%s", ctx->def->cpuMigratable);
        /* as libvirt: force/require turn a feature on, disable/forbid off; optional
         * leaves QEMU's choice */
        for (guint i = 0; ctx->def->cpuFeatures && i < ctx->def->cpuFeatures->len; i++) {
            const qvirDomainCPUFeature *f = g_ptr_array_index(ctx->def->cpuFeatures, i);

            const char *name = qemuBuildCPUFeatureName(f->name);

            if (strcmp(f->policy, "force") == 0 || strcmp(f->policy, "require") == 0)
                g_string_append_printf(buf, ",%s=on", name);
            else if (strcmp(f->policy, "disable") == 0 || strcmp(f->policy, "forbid") == 0)
                g_string_append_printf(buf, ",%s=off", name);
        }
        qemuBuildCPUParavirt(ctx, buf);
        qemuBuildArgPair(ctx, "-cpu", buf->str);
    }
}

static void
qemuBuildMemory(qemuBuildCtx *ctx)
{
    qemuBuildArgf(ctx, "-m", "%llu", ctx->def->memoryKiB / 1024);
    if (ctx->json) {
        JsonObject *obj = json_object_new();

        json_object_set_string_member(obj, "qom-type", "memory-backend-ram");
        json_object_set_string_member(obj, "id", "pc.ram");
        json_object_set_int_member(obj, "size", (gint64)(ctx->def->memoryKiB * 1024));
        qemuBuildObjectArg(ctx, "-object", obj, "qom-type");
    }
    qemuBuildArgPair(ctx, "-overcommit", "mem-lock=off");
}

static void
qemuBuildSmpAndUUID(qemuBuildCtx *ctx)
{
    char uuid[QVIR_UUID_STRING_BUFLEN];
    unsigned int n = ctx->def->vcpus ? ctx->def->vcpus : 1;

    /* libvirt: "N" alone when all vCPUs are online, else "CUR,maxcpus=N" (the rest are
     * hot-pluggable sockets) */
    if (ctx->def->vcpusCurrent && ctx->def->vcpusCurrent < n)
        qemuBuildArgf(ctx, "-smp", "%u,maxcpus=%u,sockets=%u,cores=1,threads=1",
                      ctx->def->vcpusCurrent, n, n);
    else
        qemuBuildArgf(ctx, "-smp", "%u,sockets=%u,cores=1,threads=1", n, n);
    for (unsigned int i = 1; i <= ctx->def->iothreads; i++) {
        JsonObject *obj = json_object_new();

        json_object_set_string_member(obj, "qom-type", "iothread");
        qemuJSONSetStrFree(obj, "id", g_strdup_printf("iothread%u", i));
        qemuBuildObjectArg(ctx, "-object", obj, "qom-type");
    }
    qvirUUIDFormat(ctx->def->uuid, uuid);
    qemuBuildArgPair(ctx, "-uuid", uuid);
}

static void
qemuBuildMonitor(qemuBuildCtx *ctx)
{
    if (ctx->opts->monitorPath) {
        g_autoptr(GString) buf = g_string_new("socket,id=charmonitor,path=");

        qemuBuildAppendEscaped(buf, ctx->opts->monitorPath);
        g_string_append(buf, ",server=on,wait=off");
        qemuBuildArgPair(ctx, "-chardev", buf->str);
    } else {
        qemuBuildArgf(ctx, "-chardev", "socket,id=charmonitor,fd=%d,server=on,wait=off",
                      ctx->opts->monitorFd);
    }
    qemuBuildArgPair(ctx, "-mon", "chardev=charmonitor,id=monitor,mode=control");
}

/* -rtc with the rtc timer's clock and drift fix, then the PIT's lost tick policy. */
static void
qemuBuildClock(qemuBuildCtx *ctx)
{
    const qvirDomainTimerDef *rtc = qemuBuildFindTimer(ctx->def, QVIR_DOMAIN_TIMER_RTC);
    g_autoptr(GString) buf = g_string_new(NULL);

    if (g_strcmp0(ctx->def->clockOffset, "absolute") == 0) {
        /* validated to fit: QEMU takes the moment as a UTC date and time */
        g_autoptr(GDateTime) then = g_date_time_new_from_unix_utc((gint64)ctx->def->clockStart);
        g_autofree char *thenStr = g_date_time_format(then, "%Y-%m-%dT%H:%M:%S");

        g_string_append_printf(buf, "base=%s", thenStr);
    } else {
        g_string_append_printf(buf, "base=%s",
                               g_strcmp0(ctx->def->clockOffset, "localtime") == 0 ? "localtime"
                                                                                  : "utc");
    }
    if (rtc && rtc->track == QVIR_DOMAIN_TIMER_TRACK_GUEST)
        g_string_append(buf, ",clock=vm");
    else if (rtc && rtc->track == QVIR_DOMAIN_TIMER_TRACK_WALL)
        g_string_append(buf, ",clock=host");
    else if (rtc && rtc->track == QVIR_DOMAIN_TIMER_TRACK_REALTIME)
        g_string_append(buf, ",clock=rt");
    if (rtc && rtc->tickpolicy == QVIR_DOMAIN_TIMER_TICKPOLICY_CATCHUP)
        g_string_append(buf, ",driftfix=slew");
    qemuBuildArgPair(ctx, "-rtc", buf->str);

    /* in document order, as libvirt walks the timers */
    for (unsigned int i = 0; i < ctx->def->ntimers && i < QVIR_DOMAIN_TIMER_LAST; i++) {
        const qvirDomainTimerDef *t = &ctx->def->timers[i];

        if (t->name == QVIR_DOMAIN_TIMER_PIT &&
            (t->tickpolicy == QVIR_DOMAIN_TIMER_TICKPOLICY_NONE ||
             t->tickpolicy == QVIR_DOMAIN_TIMER_TICKPOLICY_DELAY))
            qemuBuildArgPair(ctx, "-global", "kvm-pit.lost_tick_policy=delay");
        else if (t->name == QVIR_DOMAIN_TIMER_PIT &&
                 t->tickpolicy == QVIR_DOMAIN_TIMER_TICKPOLICY_DISCARD)
            qemuBuildArgPair(ctx, "-global", "kvm-pit.lost_tick_policy=discard");
        /* without the machine property the HPET can only be switched off */
        else if (t->name == QVIR_DOMAIN_TIMER_HPET && t->present == QVIR_TRISTATE_BOOL_NO &&
                 !qemuCapsGet(ctx->caps, QEMU_CAPS_MACHINE_HPET))
            qemuBuildArg(ctx, "-no-hpet");
    }
}

/* <pm>: the ACPI S3/S4 switches of the chipset's power management device. */
static void
qemuBuildPM(qemuBuildCtx *ctx)
{
    const char *pm = ctx->kind == QEMU_DOMAIN_MACHINE_Q35 ? "ICH9-LPC" : "PIIX4_PM";

    if (ctx->def->pmS3 != QVIR_TRISTATE_BOOL_ABSENT)
        qemuBuildArgf(ctx, "-global", "%s.disable_s3=%d", pm,
                      ctx->def->pmS3 == QVIR_TRISTATE_BOOL_NO);
    if (ctx->def->pmS4 != QVIR_TRISTATE_BOOL_ABSENT)
        qemuBuildArgf(ctx, "-global", "%s.disable_s4=%d", pm,
                      ctx->def->pmS4 == QVIR_TRISTATE_BOOL_NO);
}

/* -boot: menu, reboot-timeout and splash-time before strict=on, as libvirt orders them. */
static void
qemuBuildBoot(qemuBuildCtx *ctx)
{
    const qvirDomainOSDef *os = &ctx->def->os;
    g_autoptr(GString) buf = g_string_new(NULL);

    if (os->bootmenu != QVIR_TRISTATE_BOOL_ABSENT)
        g_string_append(buf, os->bootmenu == QVIR_TRISTATE_BOOL_YES ? "menu=on," : "menu=off,");
    if (os->rtSet)
        g_string_append_printf(buf, "reboot-timeout=%d,", os->rtDelay);
    if (os->bmTimeoutSet)
        g_string_append_printf(buf, "splash-time=%u,", os->bmTimeout);
    g_string_append(buf, "strict=on");
    qemuBuildArgPair(ctx, "-boot", buf->str);
}

static void
qemuBuildClockPMBoot(qemuBuildCtx *ctx)
{
    const qvirDomainDef *def = ctx->def;

    qemuBuildClock(ctx);
    /* With set-action the reboot/shutdown behaviour is set over QMP after start (as
     * libvirt does); older binaries only know -no-reboot. */
    if (!qemuCapsGet(ctx->caps, QEMU_CAPS_SET_ACTION) &&
        def->onReboot == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY)
        qemuBuildArg(ctx, "-no-reboot");
    else
        qemuBuildArg(ctx, "-no-shutdown");
    if (def->acpi != QVIR_TRISTATE_SWITCH_ON)
        qemuBuildArg(ctx, "-no-acpi");
    qemuBuildPM(ctx);
    qemuBuildBoot(ctx);
    if (def->os.kernel)
        qemuBuildArgPair(ctx, "-kernel", def->os.kernel);
    if (def->os.initrd)
        qemuBuildArgPair(ctx, "-initrd", def->os.initrd);
    if (def->os.cmdline)
        qemuBuildArgPair(ctx, "-append", def->os.cmdline);
}

/* ---- virtio devices ----------------------------------------------------------------- */

/*
 * The -device driver of a virtio PCI device: BASE-pci, or its -transitional /
 * -non-transitional flavour. Without those devices in QEMU a transitional model is the
 * plain device (its conventional PCI slot makes it behave the same), as libvirt does.
 */
static char *
qemuBuildVirtioDriverName(const qemuCaps *caps, const char *base, gboolean transitional,
                          gboolean nonTransitional, GError **error)
{
    gboolean have = qemuCapsGet(caps, QEMU_CAPS_VIRTIO_PCI_TRANSITIONAL);

    if (nonTransitional && !have) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "virtio non-transitional model not supported for this qemu");
        return NULL;
    }
    if (transitional && have)
        return g_strdup_printf("%s-pci-transitional", base);
    if (nonTransitional)
        return g_strdup_printf("%s-pci-non-transitional", base);
    return g_strdup_printf("%s-pci", base);
}

/* A virtio device's transport options, right after its driver as libvirt puts them. */
static void
qemuBuildVirtioOptionsProps(JsonObject *props, const qvirDomainVirtioOptions *opts)
{
    static const char *const names[] = {"iommu_platform", "ats", "packed", "page-per-vq"};
    const qvirTristateSwitch values[] = {opts->iommu, opts->ats, opts->packed, opts->pagePerVq};

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (values[i] != QVIR_TRISTATE_SWITCH_ABSENT)
            json_object_set_boolean_member(props, names[i], values[i] == QVIR_TRISTATE_SWITCH_ON);
    }
}

/* ---- controllers ------------------------------------------------------------------ */

static const char *
qemuBuildControllerDriver(const qvirDomainControllerDef *c)
{
    switch (c->type) {
    case QVIR_DOMAIN_CONTROLLER_TYPE_USB:
        if (g_strcmp0(c->model, "piix3-uhci") == 0)
            return "piix3-usb-uhci";
        if (g_strcmp0(c->model, "qemu-xhci") == 0)
            return "qemu-xhci";
        if (g_strcmp0(c->model, "nec-xhci") == 0)
            return "nec-usb-xhci";
        if (g_strcmp0(c->model, "pci-ohci") == 0)
            return "pci-ohci";
        if (g_strcmp0(c->model, "ich9-ehci1") == 0)
            return "ich9-usb-ehci1";
        if (g_strcmp0(c->model, "ehci") == 0)
            return "usb-ehci";
        if (g_strcmp0(c->model, "ich9-uhci1") == 0)
            return "ich9-usb-uhci1";
        if (g_strcmp0(c->model, "ich9-uhci2") == 0)
            return "ich9-usb-uhci2";
        if (g_strcmp0(c->model, "ich9-uhci3") == 0)
            return "ich9-usb-uhci3";
        if (g_strcmp0(c->model, "piix4-uhci") == 0)
            return "piix4-usb-uhci";
        return NULL;
    case QVIR_DOMAIN_CONTROLLER_TYPE_SCSI:
        if (qemuDomainSCSIModelIsLSI(c->model))
            return "lsi";
        /* libvirt's names for QEMU's LSI SAS and VMware paravirtual HBAs */
        if (g_strcmp0(c->model, "lsisas1068") == 0)
            return "mptsas1068";
        if (g_strcmp0(c->model, "lsisas1078") == 0)
            return "megasas";
        if (g_strcmp0(c->model, "vmpvscsi") == 0)
            return "pvscsi";
        return NULL;
    case QVIR_DOMAIN_CONTROLLER_TYPE_SATA:
        return "ahci";
    case QVIR_DOMAIN_CONTROLLER_TYPE_PCI:
        if (g_strcmp0(c->model, "pcie-to-pci-bridge") == 0)
            return "pcie-pci-bridge";
        return g_strcmp0(c->model, "pcie-root-port") == 0 ? "pcie-root-port" : NULL;
    case QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL:
    case QVIR_DOMAIN_CONTROLLER_TYPE_IDE:
    case QVIR_DOMAIN_CONTROLLER_TYPE_LAST:
    default:
        return NULL;
    }
}

/* Controllers QEMU creates by itself with the machine. */
static gboolean
qemuBuildControllerIsBuiltin(qemuBuildCtx *ctx, const qvirDomainControllerDef *c)
{
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_PCI && c->idx == 0)
        return TRUE;
    /* the floppy controller comes with the floppies (qemuBuildFloppyController) */
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_FDC)
        return TRUE;
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB && g_strcmp0(c->model, "none") == 0)
        return TRUE;
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_IDE && c->idx == 0 &&
        ctx->kind == QEMU_DOMAIN_MACHINE_PC)
        return TRUE;
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_SATA && c->idx == 0 &&
        ctx->kind == QEMU_DOMAIN_MACHINE_Q35)
        return TRUE;
    return FALSE;
}

/* masterbus and firstport of a USB companion controller. */
static gboolean
qemuBuildUSBCompanionProps(qemuBuildCtx *ctx, const qvirDomainControllerDef *c, JsonObject *props,
                           GError **error)
{
    const qvirDomainControllerDef *master =
        qemuBuildFindController(ctx, QVIR_DOMAIN_CONTROLLER_TYPE_USB, c->idx);

    if (!master || master->info.usbMaster || !master->info.alias) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "masterbus not found");
        return FALSE;
    }
    qemuJSONSetStrFree(props, "masterbus", g_strdup_printf("%s.0", master->info.alias));
    json_object_set_int_member(props, "firstport", c->info.usbStartPort);
    return TRUE;
}

/* -device properties of controller C (one QEMU creates by itself is the caller's to skip). */
static JsonObject *
qemuBuildControllerProps(qemuBuildCtx *ctx, const qvirDomainControllerDef *c, GError **error)
{
    g_autoptr(JsonObject) props = NULL;
    gboolean virtio =
        qvirDomainControllerIsVirtioSCSI(c) || c->type == QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL;
    g_autofree char *driver = NULL;

    if (virtio) {
        if (!(driver = qemuBuildVirtioDriverName(
                  ctx->caps,
                  c->type == QVIR_DOMAIN_CONTROLLER_TYPE_SCSI ? "virtio-scsi" : "virtio-serial",
                  qvirDomainControllerIsTransitional(c), qvirDomainControllerIsNonTransitional(c),
                  error)))
            return NULL;
    } else if (!(driver = g_strdup(qemuBuildControllerDriver(c)))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "%s controller model '%s' is not supported",
                    qvirDomainControllerTypeTypeToString(c->type), c->model ? c->model : "default");
        return NULL;
    }
    props = json_object_new();
    json_object_set_string_member(props, "driver", driver);
    /* libvirt reads these on any controller but gives them to the virtio ones only */
    if (virtio)
        qemuBuildVirtioOptionsProps(props, &c->virtio);
    if (c->iothread)
        qemuJSONSetStrFree(props, "iothread", g_strdup_printf("iothread%u", c->iothread));
    /* xHCI: as many USB 2 (p2) as USB 3 (p3) ports */
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB && c->ports >= 0) {
        json_object_set_int_member(props, "p2", c->ports);
        json_object_set_int_member(props, "p3", c->ports);
    }
    /* root ports only; a pcie-to-pci-bridge has neither */
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_PCI && c->port >= 0)
        json_object_set_int_member(props, "port", c->port);
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_PCI && c->chassis >= 0)
        json_object_set_int_member(props, "chassis", c->chassis);
    if (c->info.usbMaster && c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB) {
        /* a companion has no bus of its own: it serves ports of its master's */
        if (!qemuBuildUSBCompanionProps(ctx, c, props, error))
            return NULL;
    } else {
        json_object_set_string_member(props, "id", c->info.alias ? c->info.alias : "");
    }
    /* virtio-scsi's tuning, in libvirt's order */
    if (c->queues)
        json_object_set_int_member(props, "num_queues", c->queues);
    if (c->cmdPerLun)
        json_object_set_int_member(props, "cmd_per_lun", c->cmdPerLun);
    if (c->maxSectors)
        json_object_set_int_member(props, "max_sectors", c->maxSectors);
    if (c->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
        json_object_set_boolean_member(props, "ioeventfd", c->ioeventfd == QVIR_TRISTATE_SWITCH_ON);
    if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL && c->ports >= 0)
        json_object_set_int_member(props, "max_ports", c->ports);
    if (c->vectors >= 0)
        json_object_set_int_member(props, "vectors", c->vectors);
    qemuBuildPCIAddressProps(ctx, props, &c->info);
    return g_steal_pointer(&props);
}

JsonObject *
qemuBuildControllerDevProps(const qvirDomainDef *def, const qemuCaps *caps,
                            const qvirDomainControllerDef *c, GError **error)
{
    qemuBuildCtx ctx = {.def = def, .caps = caps, .json = TRUE};

    g_return_val_if_fail(def != NULL && c != NULL, NULL);

    if (!qemuDomainGetMachineKind(def, &ctx.kind, error))
        return NULL;
    return qemuBuildControllerProps(&ctx, c, error);
}

static gboolean
qemuBuildControllers(qemuBuildCtx *ctx, GError **error)
{
    static const qvirDomainControllerType order[] = {
        QVIR_DOMAIN_CONTROLLER_TYPE_PCI,  QVIR_DOMAIN_CONTROLLER_TYPE_USB,
        QVIR_DOMAIN_CONTROLLER_TYPE_SCSI, QVIR_DOMAIN_CONTROLLER_TYPE_IDE,
        QVIR_DOMAIN_CONTROLLER_TYPE_SATA, QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL,
    };

    for (size_t t = 0; t < G_N_ELEMENTS(order); t++) {
        for (guint i = 0; i < ctx->def->controllers->len; i++) {
            const qvirDomainControllerDef *c = g_ptr_array_index(ctx->def->controllers, i);
            JsonObject *props;

            if (c->type != order[t] || qemuBuildControllerIsBuiltin(ctx, c))
                continue;
            if (!(props = qemuBuildControllerProps(ctx, c, error)))
                return FALSE;
            qemuBuildDevice(ctx, props);
        }
    }
    return TRUE;
}

/* ---- disks -------------------------------------------------------------------------- */

/* The node the guest device reads: the copy-on-read filter when there is one. */
static char *
qemuBuildDiskCopyOnReadNode(const qvirDomainDiskDef *disk)
{
    return g_strdup_printf("libvirt-CoR-%s", disk->dst);
}

static gboolean
qemuBuildDiskBlockdevs(qemuBuildCtx *ctx, const qvirDomainDiskDef *disk, GError **error)
{
    g_autoptr(GPtrArray) layers = g_ptr_array_new();

    for (qvirStorageSource *src = disk->src; qvirStorageSourceIsBacking(src);
         src = src->backingStore)
        g_ptr_array_add(layers, src);

    /* deepest first: a format node's "backing" must name a node that already exists */
    for (guint i = layers->len; i > 0; i--) {
        const qvirStorageSource *src = g_ptr_array_index(layers, i - 1);
        g_autoptr(GPtrArray) objects =
            g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
        g_autoptr(JsonNode) storage = NULL;
        g_autoptr(JsonNode) format = NULL;

        /* a layer's secrets (auth, LUKS) and TLS credentials come before its node */
        if (!qemuBlockStorageSourceGetDepObjects(src, ctx->opts->secrets, objects, error) ||
            !(storage = qemuBlockStorageSourceGetBackendPropsFull(disk, src, ctx->caps, error)))
            return FALSE;
        format = qemuBlockStorageSourceGetFormatProps(disk, src, ctx->caps);
        for (guint k = 0; k < objects->len; k++)
            qemuBuildObjectArg(ctx, "-object",
                               json_object_ref(json_node_get_object(g_ptr_array_index(objects, k))),
                               "qom-type");

        qemuBuildArg(ctx, "-blockdev");
        g_ptr_array_add(ctx->cmd->argv, qemuBlockJSONToString(storage));
        qemuBuildArg(ctx, "-blockdev");
        g_ptr_array_add(ctx->cmd->argv, qemuBlockJSONToString(format));
    }

    /* copy-on-read is a filter node above the top format node */
    if (disk->copyOnRead == QVIR_TRISTATE_SWITCH_ON && qvirStorageSourceIsBacking(disk->src)) {
        JsonObject *cor = json_object_new();

        json_object_set_string_member(cor, "driver", "copy-on-read");
        qemuJSONSetStrFree(cor, "node-name", qemuBuildDiskCopyOnReadNode(disk));
        json_object_set_string_member(cor, "file", disk->src->nodeFormat);
        json_object_set_string_member(cor, "discard", "unmap");
        qemuBuildObjectArg(ctx, "-blockdev", cor, NULL);
    }
    return TRUE;
}

/*
 * Floppies: the ISA controller carries their boot indexes. On i440fx it is built into
 * the machine and set with -global; on q35 it must be created with -device.
 */
static void
qemuBuildFloppyController(qemuBuildCtx *ctx)
{
    unsigned int bootindex[2] = {0, 0};
    gboolean hasFloppy = FALSE;

    for (guint i = 0; i < ctx->def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(ctx->def->disks, i);

        if (disk->bus != QVIR_DOMAIN_DISK_BUS_FDC)
            continue;
        hasFloppy = TRUE;
        bootindex[disk->info.addr.drive.unit ? 1 : 0] = qemuBuildDiskBootIndex(ctx->def, disk);
    }
    if (!hasFloppy)
        return;
    if (ctx->kind == QEMU_DOMAIN_MACHINE_Q35) {
        JsonObject *props = json_object_new();

        json_object_set_string_member(props, "driver", "isa-fdc");
        if (bootindex[0])
            json_object_set_int_member(props, "bootindexA", bootindex[0]);
        if (bootindex[1])
            json_object_set_int_member(props, "bootindexB", bootindex[1]);
        qemuBuildDevice(ctx, props);
        return;
    }
    if (bootindex[0])
        qemuBuildArgf(ctx, "-global", "isa-fdc.bootindexA=%u", bootindex[0]);
    if (bootindex[1])
        qemuBuildArgf(ctx, "-global", "isa-fdc.bootindexB=%u", bootindex[1]);
}

static const char *
qemuBuildDiskCacheWord(qvirDomainDiskCache mode)
{
    return qvirDomainDiskCacheTypeToString(mode);
}

/* Legacy: one -drive carrying the top image; QEMU opens the backing chain itself. */
static void
qemuBuildDiskDrive(qemuBuildCtx *ctx, const qvirDomainDiskDef *disk)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    const qvirStorageSource *src = disk->src;
    const char *dz;

    if (qvirStorageSourceIsBacking(src)) {
        g_string_append(buf, "file=");
        qemuBuildAppendEscaped(buf, src->path ? src->path : "");
        g_string_append_printf(buf, ",format=%s,",
                               src->format == QVIR_STORAGE_FILE_ISO || !src->format
                                   ? "raw"
                                   : qvirStorageFileFormatTypeToString(src->format));
    }
    g_string_append_printf(buf, "if=none,id=drive-%s", disk->info.alias);
    if (src && src->readonly)
        g_string_append(buf, ",readonly=on");
    if (disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DEFAULT)
        g_string_append_printf(buf, ",cache=%s", qemuBuildDiskCacheWord(disk->cachemode));
    if (disk->iomode != QVIR_DOMAIN_DISK_IO_DEFAULT)
        g_string_append_printf(buf, ",aio=%s", qvirDomainDiskIoTypeToString(disk->iomode));
    if (disk->discard != QVIR_DOMAIN_DISK_DISCARD_DEFAULT)
        g_string_append_printf(buf, ",discard=%s",
                               qvirDomainDiskDiscardTypeToString(disk->discard));
    if ((dz = qemuBlockDetectZeroesValue(disk)))
        g_string_append_printf(buf, ",detect-zeroes=%s", dz);
    qemuBuildArgPair(ctx, "-drive", buf->str);
}

static gboolean
qemuBuildDiskDriveAddressProps(qemuBuildCtx *ctx, JsonObject *props, const qvirDomainDiskDef *disk,
                               GError **error)
{
    const qvirDomainDeviceDriveAddress *a = &disk->info.addr.drive;
    const qvirDomainControllerDef *cont;

    switch (disk->bus) {
    case QVIR_DOMAIN_DISK_BUS_IDE:
        qemuJSONSetStrFree(props, "bus", g_strdup_printf("ide.%u", a->bus));
        json_object_set_int_member(props, "unit", a->unit);
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_SATA:
        if (ctx->kind == QEMU_DOMAIN_MACHINE_Q35 && a->controller == 0)
            qemuJSONSetStrFree(props, "bus", g_strdup_printf("ide.%u", a->unit));
        else
            qemuJSONSetStrFree(props, "bus", g_strdup_printf("sata%u.%u", a->controller, a->unit));
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_SCSI:
        cont = qemuBuildFindController(ctx, QVIR_DOMAIN_CONTROLLER_TYPE_SCSI, a->controller);
        if (!cont) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "unable to find a SCSI controller for idx=%u", a->controller);
            return FALSE;
        }
        if (qemuDomainSCSIModelIsLSI(cont->model)) {
            qemuJSONSetStrFree(props, "bus", g_strdup_printf("%s.%u", cont->info.alias, a->bus));
            json_object_set_int_member(props, "scsi-id", a->unit);
        } else {
            qemuJSONSetStrFree(props, "bus", g_strdup_printf("%s.0", cont->info.alias));
            json_object_set_int_member(props, "channel", a->bus);
            json_object_set_int_member(props, "scsi-id", a->target);
            json_object_set_int_member(props, "lun", a->unit);
        }
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_VIRTIO:
        qemuBuildPCIAddressProps(ctx, props, &disk->info);
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_USB:
        qemuBuildUSBAddressProps(ctx, &disk->info, props);
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_FDC:
        json_object_set_int_member(props, "unit", a->unit);
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_NONE:
    case QVIR_DOMAIN_DISK_BUS_LAST:
    default:
        break;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "unsupported disk bus '%s' with device setup",
                qvirDomainDiskBusTypeToString(disk->bus));
    return FALSE;
}

static const char *
qemuBuildDiskDriver(const qvirDomainDiskDef *disk)
{
    gboolean cd = disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM;

    switch (disk->bus) {
    case QVIR_DOMAIN_DISK_BUS_IDE:
    case QVIR_DOMAIN_DISK_BUS_SATA:
        return cd ? "ide-cd" : "ide-hd";
    case QVIR_DOMAIN_DISK_BUS_SCSI:
        if (disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN)
            return "scsi-block";
        return cd ? "scsi-cd" : "scsi-hd";
    case QVIR_DOMAIN_DISK_BUS_VIRTIO:
        /* named by its model: qemuBuildVirtioDriverName */
        return NULL;
    case QVIR_DOMAIN_DISK_BUS_USB:
        return "usb-storage";
    case QVIR_DOMAIN_DISK_BUS_FDC:
        return "floppy";
    case QVIR_DOMAIN_DISK_BUS_NONE:
    case QVIR_DOMAIN_DISK_BUS_LAST:
    default:
        return NULL;
    }
}

/* "\ " for every space, as libvirt escapes serials. */
static char *
qemuBuildDiskSerial(const char *serial)
{
    g_autoptr(GString) buf = g_string_new(NULL);

    for (const char *p = serial; *p; p++) {
        if (*p == ' ')
            g_string_append_c(buf, '\\');
        g_string_append_c(buf, *p);
    }
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

/*
 * virtio-blk's own properties, which libvirt puts right after the driver name. "scsi" is
 * SG_IO passthrough: on for a lun, and off for the others only where QEMU would otherwise
 * turn it on.
 */
static void
qemuBuildDiskVirtioProps(qemuBuildCtx *ctx, JsonObject *props, const qvirDomainDiskDef *disk)
{
    qvirTristateSwitch scsi = QVIR_TRISTATE_SWITCH_ABSENT;

    if (qemuCapsGet(ctx->caps, QEMU_CAPS_VIRTIO_BLK_SCSI)) {
        if (disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN)
            scsi = QVIR_TRISTATE_SWITCH_ON;
        else if (!qemuCapsGet(ctx->caps, QEMU_CAPS_VIRTIO_BLK_SCSI_DEFAULT_DISABLED))
            scsi = QVIR_TRISTATE_SWITCH_OFF;
    }
    qemuBuildVirtioOptionsProps(props, &disk->virtio);
    if (disk->iothread)
        qemuJSONSetStrFree(props, "iothread", g_strdup_printf("iothread%u", disk->iothread));
    if (disk->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
        json_object_set_boolean_member(props, "ioeventfd",
                                       disk->ioeventfd == QVIR_TRISTATE_SWITCH_ON);
    if (disk->eventIdx != QVIR_TRISTATE_SWITCH_ABSENT)
        json_object_set_boolean_member(props, "event_idx",
                                       disk->eventIdx == QVIR_TRISTATE_SWITCH_ON);
    if (scsi != QVIR_TRISTATE_SWITCH_ABSENT)
        json_object_set_boolean_member(props, "scsi", scsi == QVIR_TRISTATE_SWITCH_ON);
    if (disk->queues)
        json_object_set_int_member(props, "num-queues", disk->queues);
    if (disk->queueSize)
        json_object_set_int_member(props, "queue-size", disk->queueSize);
}

/* QEMU's werror/rerror: ENOSPC is spelled differently and is write-only; a read policy
 * left unset follows the write policy. */
static void
qemuBuildDiskErrorPolicyProps(JsonObject *props, const qvirDomainDiskDef *disk)
{
    const char *wpolicy = NULL;
    const char *rpolicy = NULL;

    if (disk->errorPolicy != QVIR_DOMAIN_DISK_ERROR_POLICY_DEFAULT)
        wpolicy = qvirDomainDiskErrorPolicyTypeToString(disk->errorPolicy);
    if (disk->rerrorPolicy != QVIR_DOMAIN_DISK_ERROR_POLICY_DEFAULT)
        rpolicy = qvirDomainDiskErrorPolicyTypeToString(disk->rerrorPolicy);
    if (disk->errorPolicy == QVIR_DOMAIN_DISK_ERROR_POLICY_ENOSPACE)
        wpolicy = "enospc";
    else if (!rpolicy)
        rpolicy = wpolicy;
    if (wpolicy)
        json_object_set_string_member(props, "werror", wpolicy);
    if (rpolicy)
        json_object_set_string_member(props, "rerror", rpolicy);
}

/* Guest-visible geometry, identity and block sizes, in libvirt's key order. */
static gboolean
qemuBuildDiskFrontendProps(JsonObject *props, const qvirDomainDiskDef *disk, GError **error)
{
    if (disk->logicalBlockSize)
        json_object_set_int_member(props, "logical_block_size", disk->logicalBlockSize);
    if (disk->physicalBlockSize)
        json_object_set_int_member(props, "physical_block_size", disk->physicalBlockSize);
    if (disk->wwn) {
        const char *digits = g_str_has_prefix(disk->wwn, "0x") ? disk->wwn + 2 : disk->wwn;
        guint64 wwn = g_ascii_strtoull(digits, NULL, 16);

        /* QEMU takes the WWN as a number; JSON here carries signed 64-bit integers only */
        if (wwn > G_MAXINT64) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "wwn '%s' of disk '%s' is out of the supported range", disk->wwn,
                        disk->dst);
            return FALSE;
        }
        json_object_set_int_member(props, "wwn", (gint64)wwn);
    }
    if (disk->rotationRate)
        json_object_set_int_member(props, "rotation_rate", disk->rotationRate);
    if (disk->vendor)
        json_object_set_string_member(props, "vendor", disk->vendor);
    if (disk->product)
        json_object_set_string_member(props, "product", disk->product);
    return TRUE;
}

static void
qemuBuildDiskGeometryProps(JsonObject *props, const qvirDomainDiskDef *disk)
{
    if (disk->geometry.cylinders) {
        json_object_set_int_member(props, "cyls", disk->geometry.cylinders);
        json_object_set_int_member(props, "heads", disk->geometry.heads);
        json_object_set_int_member(props, "secs", disk->geometry.sectors);
    }
    if (disk->geometry.trans != QVIR_DOMAIN_DISK_TRANS_DEFAULT)
        json_object_set_string_member(
            props, "bios-chs-trans", qvirDomainDiskGeometryTransTypeToString(disk->geometry.trans));
}

static JsonObject *
qemuBuildDiskDeviceProps(qemuBuildCtx *ctx, const qvirDomainDiskDef *disk, GError **error)
{
    g_autoptr(JsonObject) props = json_object_new();
    g_autofree char *driver = NULL;
    unsigned int bootindex = qemuBuildDiskBootIndex(ctx->def, disk);
    gboolean wb = FALSE;

    if (disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO) {
        if (!(driver = qemuBuildVirtioDriverName(
                  ctx->caps, "virtio-blk",
                  disk->model == QVIR_DOMAIN_DISK_MODEL_VIRTIO_TRANSITIONAL,
                  disk->model == QVIR_DOMAIN_DISK_MODEL_VIRTIO_NON_TRANSITIONAL, error)))
            return NULL;
    } else {
        driver = g_strdup(qemuBuildDiskDriver(disk));
    }
    if (!driver) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "unsupported disk bus '%s' with device setup",
                    qvirDomainDiskBusTypeToString(disk->bus));
        return NULL;
    }
    json_object_set_string_member(props, "driver", driver);
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO)
        qemuBuildDiskVirtioProps(ctx, props, disk);
    if (!qemuBuildDiskDriveAddressProps(ctx, props, disk, error))
        return NULL;

    /* QEMU historically used the -drive name as the SCSI VPD device id; keep it stable. */
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_SCSI && disk->device != QVIR_DOMAIN_DISK_DEVICE_LUN)
        qemuJSONSetStrFree(props, "device_id",
                           disk->serial ? g_strdup(disk->serial)
                                        : g_strdup_printf("drive-%s", disk->info.alias));
    if (disk->src && disk->src->shared && qemuCapsGet(ctx->caps, QEMU_CAPS_DISK_SHARE_RW))
        json_object_set_boolean_member(props, "share-rw", TRUE);
    if (ctx->blockdev) {
        if (qvirStorageSourceIsBacking(disk->src))
            qemuJSONSetStrFree(props, "drive",
                               disk->copyOnRead == QVIR_TRISTATE_SWITCH_ON
                                   ? qemuBuildDiskCopyOnReadNode(disk)
                                   : g_strdup(disk->src->nodeFormat));
    } else {
        qemuJSONSetStrFree(props, "drive", g_strdup_printf("drive-%s", disk->info.alias));
    }
    json_object_set_string_member(props, "id", disk->info.alias);
    /* a floppy's boot index belongs to its controller (qemuBuildFloppyController) */
    if (bootindex && disk->bus != QVIR_DOMAIN_DISK_BUS_FDC)
        json_object_set_int_member(props, "bootindex", bootindex);
    if (!qemuBuildDiskFrontendProps(props, disk, error))
        return NULL;
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_USB)
        json_object_set_boolean_member(props, "removable",
                                       disk->removable == QVIR_TRISTATE_SWITCH_ON);
    /* scsi-block passes the guest's requests through; a cache setting means nothing. */
    if (disk->device != QVIR_DOMAIN_DISK_DEVICE_LUN &&
        qemuCapsGet(ctx->caps, QEMU_CAPS_DISK_WRITE_CACHE) &&
        qemuDomainDiskCacheModeFlags(disk->cachemode, &wb, NULL, NULL))
        json_object_set_string_member(props, "write-cache", wb ? "on" : "off");
    qemuBuildDiskGeometryProps(props, disk);
    if (disk->serial)
        qemuJSONSetStrFree(props, "serial", qemuBuildDiskSerial(disk->serial));
    qemuBuildDiskErrorPolicyProps(props, disk);
    return g_steal_pointer(&props);
}

JsonObject *
qemuBuildDiskDevProps(const qvirDomainDef *def, const qemuCaps *caps, const qvirDomainDiskDef *disk,
                      GError **error)
{
    qemuBuildCtx ctx = {.def = def, .caps = caps, .json = TRUE, .blockdev = TRUE};

    g_return_val_if_fail(def != NULL && caps != NULL && disk != NULL, NULL);

    if (!qemuDomainGetMachineKind(def, &ctx.kind, error))
        return NULL;
    return qemuBuildDiskDeviceProps(&ctx, disk, error);
}

static gboolean
qemuBuildDisks(qemuBuildCtx *ctx, GError **error)
{
    qemuBuildFloppyController(ctx);
    for (guint i = 0; i < ctx->def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(ctx->def->disks, i);
        JsonObject *props;

        /* hot-plugged once QEMU runs, over its read-only image (qemu_process.c) */
        if (disk->transient && disk->transientShareBacking == QVIR_TRISTATE_BOOL_YES)
            continue;
        if (ctx->blockdev) {
            if (!qemuBuildDiskBlockdevs(ctx, disk, error)) {
                g_prefix_error(error, "disk '%s': ", disk->dst);
                return FALSE;
            }
        } else {
            qemuBuildDiskDrive(ctx, disk);
        }
        if (!(props = qemuBuildDiskDeviceProps(ctx, disk, error))) {
            g_prefix_error(error, "disk '%s': ", disk->dst);
            return FALSE;
        }
        qemuBuildDevice(ctx, props);
    }
    return TRUE;
}

/* ---- other devices --------------------------------------------------------------------- */

static const char *
qemuBuildNetDriver(const qvirDomainNetDef *net)
{
    if (!net->model || strcmp(net->model, "virtio") == 0)
        return "virtio-net-pci";
    return net->model; /* e1000, e1000e, rtl8139: QEMU's own names */
}

/* virtio-net's <driver> knobs, right after the driver as libvirt orders them. The backend
 * name (vhost) means nothing for a user-mode network, which has no tap to accelerate. */
static void
qemuBuildNetVirtioProps(JsonObject *props, const qvirDomainNetDef *net)
{
    if (g_strcmp0(net->txmode, "iothread") == 0)
        json_object_set_string_member(props, "tx", "bh");
    else if (g_strcmp0(net->txmode, "timer") == 0)
        json_object_set_string_member(props, "tx", "timer");
    if (net->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
        json_object_set_boolean_member(props, "ioeventfd",
                                       net->ioeventfd == QVIR_TRISTATE_SWITCH_ON);
    if (net->eventIdx != QVIR_TRISTATE_SWITCH_ABSENT)
        json_object_set_boolean_member(props, "event_idx",
                                       net->eventIdx == QVIR_TRISTATE_SWITCH_ON);
    if (net->rxQueueSize)
        json_object_set_int_member(props, "rx_queue_size", net->rxQueueSize);
    if (net->txQueueSize)
        json_object_set_int_member(props, "tx_queue_size", net->txQueueSize);
}

static gboolean
qemuBuildNets(qemuBuildCtx *ctx, GError **error)
{
    for (guint i = 0; ctx->def->nets && i < ctx->def->nets->len; i++) {
        const qvirDomainNetDef *net = g_ptr_array_index(ctx->def->nets, i);
        unsigned int bootindex = qemuBuildNetBootIndex(ctx->def, i);
        JsonObject *netdev, *props;

        if (g_strcmp0(net->type, "user") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "interface type '%s' is not supported", net->type ? net->type : "");
            return FALSE;
        }
        netdev = json_object_new();
        json_object_set_string_member(netdev, "type", "user");
        for (guint j = 0; net->ips && j < net->ips->len; j++) {
            const qvirDomainNetIPDef *ip = g_ptr_array_index(net->ips, j);

            if (ip->ipv6) {
                json_object_set_string_member(netdev, "ipv6-prefix", ip->address);
                if (ip->prefix)
                    json_object_set_int_member(netdev, "ipv6-prefixlen", ip->prefix);
            } else if (ip->prefix) {
                qemuJSONSetStrFree(netdev, "net",
                                   g_strdup_printf("%s/%u", ip->address, ip->prefix));
            } else {
                json_object_set_string_member(netdev, "net", ip->address);
            }
        }
        qemuJSONSetStrFree(netdev, "id", g_strdup_printf("host%s", net->info.alias));
        qemuBuildObjectArg(ctx, "-netdev", netdev, "type");

        props = json_object_new();
        json_object_set_string_member(props, "driver", qemuBuildNetDriver(net));
        qemuBuildNetVirtioProps(props, net);
        qemuJSONSetStrFree(props, "netdev", g_strdup_printf("host%s", net->info.alias));
        json_object_set_string_member(props, "id", net->info.alias);
        if (net->mac)
            json_object_set_string_member(props, "mac", net->mac);
        if (bootindex)
            json_object_set_int_member(props, "bootindex", bootindex);
        qemuBuildPCIAddressProps(ctx, props, &net->info);
        qemuBuildDevice(ctx, props);
    }
    return TRUE;
}

/*
 * The -chardev of a UNIX socket character device (serial or channel): QEMU connects to
 * the path, or listens on it (libvirt passes a listening socket as a file descriptor when
 * it has one; a channel without a path gets one in the domain's directory).
 */
static gboolean
qemuBuildChrUnixSocket(qemuBuildCtx *ctx, const qvirDomainChrDef *chr, GString *chardev,
                       GError **error)
{
    gboolean listen = g_strcmp0(chr->sourceMode, "connect") != 0;
    g_autofree char *path = NULL;

    if (listen && ctx->opts->monitorFd >= 0 && !ctx->opts->monitorPath) {
        g_string_append_printf(chardev, "socket,id=char%s,fd=%d,server=on,wait=off",
                               chr->info.alias, ctx->opts->monitorFd);
        return TRUE;
    }
    if (chr->sourcePath)
        path = g_strdup(chr->sourcePath);
    else if (ctx->opts->domainDir)
        path = g_strdup_printf("%s/%s", ctx->opts->domainDir,
                               chr->targetName ? chr->targetName : chr->info.alias);
    if (!path || strlen(path) >= 108) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "'%s': no usable UNIX socket path ('%s')", chr->info.alias, path ? path : "");
        return FALSE;
    }
    g_string_append_printf(chardev, "socket,id=char%s,path=", chr->info.alias);
    qemuBuildAppendEscaped(chardev, path);
    if (listen)
        g_string_append(chardev, ",server=on,wait=off");
    return TRUE;
}

/*
 * A file the chardev writes (its source or its log): passed as an fd set when the caller
 * opens files (libvirt's way: QEMU never opens the user's path, and a truncation happens
 * once, at start), else the path with the append setting as written.
 */
static gboolean
qemuBuildChrFile(qemuBuildCtx *ctx, const qvirDomainChrDef *chr, const char *suffix,
                 const char *path, qvirTristateSwitch append, const char *pathKey,
                 const char *appendKey, GString *chardev, GError **error)
{
    g_string_append_printf(chardev, ",%s=", pathKey);
    if (ctx->opts->openChrFile) {
        g_autofree char *name = g_strdup_printf("%s-%s", chr->info.alias, suffix);
        int fd = ctx->opts->openChrFile(ctx->opts->openChrFileOpaque, name, path,
                                        append == QVIR_TRISTATE_SWITCH_ON, error);

        if (fd < 0)
            return FALSE;
        qemuBuildArgf(ctx, "-add-fd", "set=%u,fd=%d,opaque=%s", ctx->fdset, fd, name);
        g_string_append_printf(chardev, "/dev/fdset/%u", ctx->fdset++);
        append = QVIR_TRISTATE_SWITCH_ON;
    } else {
        qemuBuildAppendEscaped(chardev, path);
    }
    if (append != QVIR_TRISTATE_SWITCH_ABSENT)
        g_string_append_printf(chardev, ",%s=%s", appendKey,
                               qvirTristateSwitchTypeToString(append));
    return TRUE;
}

/*
 * The TLS credentials of a tcp chardev (tls='yes', or no tls= with chardev_tls on), as
 * libvirt: the key passphrase's secret "charALIAS-secret0" when chardev_tls_x509_secret_uuid
 * is set, then tls-creds-x509 "objcharALIAS_tls0", whose id *TLSALIAS gets (NULL: no TLS).
 */
static gboolean
qemuBuildChrTLS(qemuBuildCtx *ctx, const qvirDomainChrDef *chr, char **tlsAlias, GError **error)
{
    const qemuBlockSecretCtx *sctx = ctx->opts->secrets;
    gboolean fromConfig = sctx && sctx->chardevTLS;
    g_autofree char *keyAlias = NULL;
    const char *dir;
    gboolean listen = g_strcmp0(chr->sourceMode, "bind") == 0;

    if (chr->tls == QVIR_TRISTATE_BOOL_NO || (chr->tls == QVIR_TRISTATE_BOOL_ABSENT && !fromConfig))
        return TRUE;
    dir = sctx && sctx->chardevTLSx509certdir ? sctx->chardevTLSx509certdir
                                              : QEMU_BLOCK_DEFAULT_TLS_X509_CERT_DIR;
    if (fromConfig && sctx->chardevTLSx509secretUUID) {
        JsonObject *secret;

        keyAlias = g_strdup_printf("char%s-secret0", chr->info.alias);
        if (!(secret = qemuBlockLookupSecretObject(keyAlias, sctx, sctx->chardevTLSx509secretUUID,
                                                   "tls", NULL, error)))
            return FALSE;
        qemuBuildObjectArg(ctx, "-object", secret, "qom-type");
    }
    *tlsAlias = g_strdup_printf("objchar%s_tls0", chr->info.alias);
    qemuBuildObjectArg(ctx, "-object",
                       qemuBlockTLSCredsObject(*tlsAlias, dir, listen,
                                               sctx && sctx->chardevTLSx509verify, keyAlias),
                       "qom-type");
    return TRUE;
}

/*
 * "-chardev" of a serial or console, any source type, as libvirt's qemuBuildChardevStr
 * spells it; the -add-fd of its files come first.
 */
static gboolean
qemuBuildChrChardev(qemuBuildCtx *ctx, const qvirDomainChrDef *chr, GError **error)
{
    g_autoptr(GString) chardev = g_string_new(NULL);
    const char *type = chr->type ? chr->type : "";
    const char *alias = chr->info.alias;

    if (strcmp(type, "unix") == 0) {
        if (!qemuBuildChrUnixSocket(ctx, chr, chardev, error))
            return FALSE;
    } else if (strcmp(type, "pty") == 0 || strcmp(type, "vc") == 0 || strcmp(type, "null") == 0 ||
               strcmp(type, "stdio") == 0) {
        g_string_append_printf(chardev, "%s,id=char%s", type, alias);
    } else if (strcmp(type, "dev") == 0 || strcmp(type, "pipe") == 0) {
        /* a host serial line is QEMU's "serial" backend */
        g_string_append_printf(
            chardev, "%s,id=char%s,path=", strcmp(type, "dev") == 0 ? "serial" : "pipe", alias);
        qemuBuildAppendEscaped(chardev, chr->sourcePath);
    } else if (strcmp(type, "file") == 0) {
        g_string_append_printf(chardev, "file,id=char%s", alias);
        if (!qemuBuildChrFile(ctx, chr, "source", chr->sourcePath, chr->sourceAppend, "path",
                              "append", chardev, error))
            return FALSE;
    } else if (strcmp(type, "udp") == 0) {
        /* libvirt writes every key, empty when the XML left it out */
        g_string_append_printf(chardev, "udp,id=char%s,host=%s,port=%s,localaddr=%s,localport=%s",
                               alias, chr->host ? chr->host : "", chr->service,
                               chr->bindHost ? chr->bindHost : "",
                               chr->bindService ? chr->bindService : "0");
    } else if (strcmp(type, "tcp") == 0) {
        g_autofree char *tlsAlias = NULL;

        if (!qemuBuildChrTLS(ctx, chr, &tlsAlias, error))
            return FALSE;
        g_string_append_printf(chardev, "socket,id=char%s,host=%s,port=%s", alias, chr->host,
                               chr->service);
        if (g_strcmp0(chr->protocol, "telnet") == 0)
            g_string_append(chardev, ",telnet=on");
        if (g_strcmp0(chr->sourceMode, "bind") == 0)
            g_string_append(chardev, ",server=on,wait=off");
        if (tlsAlias)
            g_string_append_printf(chardev, ",tls-creds=%s", tlsAlias);
    } else {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "unsupported chardev '%s'",
                    type);
        return FALSE;
    }
    if (chr->logFile && !qemuBuildChrFile(ctx, chr, "log", chr->logFile, chr->logAppend, "logfile",
                                          "logappend", chardev, error))
        return FALSE;
    qemuBuildArgPair(ctx, "-chardev", chardev->str);
    return TRUE;
}

static gboolean
qemuBuildSerials(qemuBuildCtx *ctx, GError **error)
{
    for (guint i = 0; ctx->def->serials && i < ctx->def->serials->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(ctx->def->serials, i);
        int port = chr->targetPort >= 0 ? chr->targetPort : (int)i;
        JsonObject *props;

        if (!qemuBuildChrChardev(ctx, chr, error))
            return FALSE;
        props = json_object_new();
        if (g_strcmp0(chr->targetType, "pci-serial") == 0) {
            json_object_set_string_member(props, "driver", "pci-serial");
            qemuJSONSetStrFree(props, "chardev", g_strdup_printf("char%s", chr->info.alias));
            json_object_set_string_member(props, "id", chr->info.alias);
            qemuBuildPCIAddressProps(ctx, props, &chr->info);
        } else if (g_strcmp0(chr->targetType, "isa-serial") == 0) {
            json_object_set_string_member(props, "driver", "isa-serial");
            qemuJSONSetStrFree(props, "chardev", g_strdup_printf("char%s", chr->info.alias));
            json_object_set_string_member(props, "id", chr->info.alias);
            json_object_set_int_member(props, "index", port);
        } else {
            json_object_unref(props);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "serial target type '%s' is not supported", chr->targetType);
            return FALSE;
        }
        qemuBuildDevice(ctx, props);
    }
    return TRUE;
}

/* Consoles come after the channels (libvirt's order); a virtio console is a virtconsole. */
static gboolean
qemuBuildConsoles(qemuBuildCtx *ctx, GError **error)
{
    for (guint i = 0; ctx->def->consoles && i < ctx->def->consoles->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(ctx->def->consoles, i);
        JsonObject *props;

        /* the serial console is the first serial port, already on the command line */
        if (i == 0 && (!chr->targetType || strcmp(chr->targetType, "serial") == 0) &&
            ctx->def->serials && ctx->def->serials->len > 0)
            continue;
        if (g_strcmp0(chr->targetType, "virtio") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "console target type '%s' is not supported",
                        chr->targetType ? chr->targetType : "");
            return FALSE;
        }
        if (!qemuBuildChrChardev(ctx, chr, error))
            return FALSE;
        props = json_object_new();
        json_object_set_string_member(props, "driver", "virtconsole");
        qemuJSONSetStrFree(props, "chardev", g_strdup_printf("char%s", chr->info.alias));
        json_object_set_string_member(props, "id", chr->info.alias);
        qemuBuildDevice(ctx, props);
    }
    return TRUE;
}

/* A virtio channel: its chardev, then the virtserialport on its virtio-serial port. */
static gboolean
qemuBuildChannels(qemuBuildCtx *ctx, GError **error)
{
    for (guint i = 0; ctx->def->channels && i < ctx->def->channels->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(ctx->def->channels, i);
        const qvirDomainDeviceVirtioSerialAddress *a = &chr->info.addr.vioser;
        g_autoptr(GString) chardev = g_string_new(NULL);
        JsonObject *props;

        if (g_strcmp0(chr->type, "pty") == 0)
            g_string_append_printf(chardev, "pty,id=char%s", chr->info.alias);
        else if (g_strcmp0(chr->sourceMode, "connect") != 0 && i < ctx->opts->nChannelFds &&
                 ctx->opts->channelFds[i] >= 0)
            g_string_append_printf(chardev, "socket,id=char%s,fd=%d,server=on,wait=off",
                                   chr->info.alias, ctx->opts->channelFds[i]);
        else if (!qemuBuildChrUnixSocket(ctx, chr, chardev, error))
            return FALSE;
        qemuBuildArgPair(ctx, "-chardev", chardev->str);

        props = json_object_new();
        json_object_set_string_member(props, "driver", "virtserialport");
        qemuJSONSetStrFree(props, "bus",
                           g_strdup_printf("virtio-serial%u.%u", a->controller, a->bus));
        json_object_set_int_member(props, "nr", a->port);
        qemuJSONSetStrFree(props, "chardev", g_strdup_printf("char%s", chr->info.alias));
        json_object_set_string_member(props, "id", chr->info.alias);
        if (chr->targetName)
            json_object_set_string_member(props, "name", chr->targetName);
        qemuBuildDevice(ctx, props);
    }
    return TRUE;
}

/* virtio-rng-pci with its backend object first. */
static void
qemuBuildRNGs(qemuBuildCtx *ctx)
{
    for (guint i = 0; ctx->def->rngs && i < ctx->def->rngs->len; i++) {
        const qvirDomainRNGDef *rng = g_ptr_array_index(ctx->def->rngs, i);
        g_autofree char *objAlias = g_strdup_printf("obj%s", rng->info.alias);
        JsonObject *obj = json_object_new();
        JsonObject *props = json_object_new();

        if (g_strcmp0(rng->backendModel, "random") == 0) {
            json_object_set_string_member(obj, "qom-type", "rng-random");
            json_object_set_string_member(obj, "id", objAlias);
            json_object_set_string_member(obj, "filename", rng->file ? rng->file : "");
        } else {
            json_object_set_string_member(obj, "qom-type", "rng-builtin");
            json_object_set_string_member(obj, "id", objAlias);
        }
        qemuBuildObjectArg(ctx, "-object", obj, "qom-type");

        json_object_set_string_member(props, "driver", "virtio-rng-pci");
        json_object_set_string_member(props, "rng", objAlias);
        json_object_set_string_member(props, "id", rng->info.alias);
        if (rng->rateBytes) {
            json_object_set_int_member(props, "max-bytes", rng->rateBytes);
            json_object_set_int_member(props, "period", rng->ratePeriod ? rng->ratePeriod : 1000);
        }
        qemuBuildPCIAddressProps(ctx, props, &rng->info);
        qemuBuildDevice(ctx, props);
    }
}

static gboolean
qemuBuildInputs(qemuBuildCtx *ctx, GError **error)
{
    for (guint i = 0; ctx->def->inputs && i < ctx->def->inputs->len; i++) {
        const qvirDomainInputDef *in = g_ptr_array_index(ctx->def->inputs, i);
        JsonObject *props;

        if (g_strcmp0(in->bus, "ps2") == 0 || !in->bus)
            continue; /* built into the i8042 */
        props = json_object_new();
        if (strcmp(in->bus, "usb") == 0) {
            /* QEMU's names: usb-mouse, usb-tablet, usb-kbd */
            qemuJSONSetStrFree(
                props, "driver",
                g_strdup_printf("usb-%s", strcmp(in->type, "keyboard") == 0 ? "kbd" : in->type));
            json_object_set_string_member(props, "id", in->info.alias);
            qemuBuildUSBAddressProps(ctx, &in->info, props);
        } else if (strcmp(in->bus, "virtio") == 0) {
            qemuJSONSetStrFree(props, "driver", g_strdup_printf("virtio-%s-pci", in->type));
            json_object_set_string_member(props, "id", in->info.alias);
            qemuBuildPCIAddressProps(ctx, props, &in->info);
        } else {
            json_object_unref(props);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "input bus '%s' is not supported", in->bus);
            return FALSE;
        }
        qemuBuildDevice(ctx, props);
    }
    return TRUE;
}

/* The <audio id=> the user gave, else the one libvirt adds (1). */
static int
qemuBuildAudioId(const qemuBuildCtx *ctx)
{
    return ctx->def->audioId ? ctx->def->audioId : 1;
}

static void
qemuBuildAudio(qemuBuildCtx *ctx)
{
    JsonObject *obj = json_object_new();

    qemuJSONSetStrFree(obj, "id", g_strdup_printf("audio%d", qemuBuildAudioId(ctx)));
    json_object_set_string_member(obj, "driver", "none");
    qemuBuildObjectArg(ctx, "-audiodev", obj, NULL);
}

static gboolean
qemuBuildGraphics(qemuBuildCtx *ctx, GError **error)
{
    for (guint i = 0; ctx->def->graphics && i < ctx->def->graphics->len; i++) {
        const qvirDomainGraphicsDef *g = g_ptr_array_index(ctx->def->graphics, i);
        const char *listen = g->listen ? g->listen : "127.0.0.1";
        int display = g->port >= 5900 ? g->port - 5900 : 0;
        g_autofree char *hostDisplay = NULL;

        if (g_strcmp0(g->type, "vnc") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "graphics type '%s' is not supported", g->type ? g->type : "");
            return FALSE;
        }
        hostDisplay = qvirSocketAddrFormatHostPort(listen, (unsigned int)display);
        qemuBuildArgf(ctx, "-vnc", "%s,audiodev=audio%d", hostDisplay, qemuBuildAudioId(ctx));
    }
    return TRUE;
}

static gboolean
qemuBuildVideos(qemuBuildCtx *ctx, GError **error)
{
    for (guint i = 0; ctx->def->videos && i < ctx->def->videos->len; i++) {
        const qvirDomainVideoDef *v = g_ptr_array_index(ctx->def->videos, i);
        JsonObject *props;

        if (!v->model || strcmp(v->model, "none") == 0)
            continue;
        props = json_object_new();
        if (strcmp(v->model, "vga") == 0) {
            json_object_set_string_member(props, "driver", "VGA");
            json_object_set_string_member(props, "id", v->info.alias);
            json_object_set_int_member(props, "vgamem_mb", v->vram ? v->vram / 1024 : 16);
        } else if (strcmp(v->model, "qxl") == 0) {
            json_object_set_string_member(props, "driver", i == 0 ? "qxl-vga" : "qxl");
            json_object_set_string_member(props, "id", v->info.alias);
            json_object_set_int_member(props, "max_outputs", v->heads ? v->heads : 1);
            json_object_set_int_member(props, "ram_size", (gint64)v->ram * 1024);
            json_object_set_int_member(props, "vram_size", (gint64)v->vram * 1024);
            json_object_set_int_member(props, "vram64_size_mb", 0);
            json_object_set_int_member(props, "vgamem_mb", v->vgamem / 1024);
        } else if (strcmp(v->model, "bochs") == 0) {
            json_object_set_string_member(props, "driver", "bochs-display");
            json_object_set_string_member(props, "id", v->info.alias);
            json_object_set_int_member(props, "vgamem", (gint64)v->vram * 1024);
        } else if (strcmp(v->model, "ramfb") == 0) {
            /* not a PCI device */
            json_object_set_string_member(props, "driver", "ramfb");
            json_object_set_string_member(props, "id", v->info.alias);
            qemuBuildDevice(ctx, props);
            continue;
        } else if (strcmp(v->model, "cirrus") == 0) {
            json_object_set_string_member(props, "driver", "cirrus-vga");
            json_object_set_string_member(props, "id", v->info.alias);
        } else if (strcmp(v->model, "virtio") == 0) {
            json_object_set_string_member(props, "driver",
                                          i == 0 ? "virtio-vga" : "virtio-gpu-pci");
            json_object_set_string_member(props, "id", v->info.alias);
            json_object_set_int_member(props, "max_outputs", v->heads ? v->heads : 1);
        } else {
            json_object_unref(props);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "video model '%s' is not supported", v->model);
            return FALSE;
        }
        qemuBuildPCIAddressProps(ctx, props, &v->info);
        qemuBuildDevice(ctx, props);
    }
    return TRUE;
}

static void
qemuBuildMemballoon(qemuBuildCtx *ctx)
{
    const qvirDomainMemballoonDef *mb = ctx->def->memballoon;
    JsonObject *props;

    if (!mb || g_strcmp0(mb->model, "virtio") != 0)
        return;
    props = json_object_new();
    json_object_set_string_member(props, "driver", "virtio-balloon-pci");
    json_object_set_string_member(props, "id", mb->info.alias ? mb->info.alias : "balloon0");
    qemuBuildPCIAddressProps(ctx, props, &mb->info);
    qemuBuildDevice(ctx, props);
}

/* ---- entry points --------------------------------------------------------------------- */

/* <qemu:capabilities>: the domain's own view of the binary, by qvirt's capability names. */
static qemuCaps *
qemuBuildCapsOverride(const qvirDomainDef *def, const qemuCaps *caps, GError **error)
{
    g_autoptr(qemuCaps) copy = qemuCapsCopy(caps);

    for (int pass = 0; pass < 2; pass++) {
        const GPtrArray *list = pass == 0 ? def->qemuCapsAdd : def->qemuCapsDel;

        for (guint i = 0; list && i < list->len; i++) {
            const char *name = g_ptr_array_index(list, i);
            int flag = qemuCapsTypeFromString(name);

            if (flag < 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "invalid qemu namespace capability '%s'", name);
                return NULL;
            }
            if (pass == 0)
                qemuCapsSet(copy, flag);
            else
                qemuCapsClear(copy, flag);
        }
    }
    return g_steal_pointer(&copy);
}

/* <qemu:commandline>: arguments at the end of the argv, variables after the base ones. */
static void
qemuBuildQemuNamespace(qemuBuildCtx *ctx)
{
    for (guint i = 0; ctx->def->qemuArgs && i < ctx->def->qemuArgs->len; i++)
        qemuBuildArg(ctx, g_ptr_array_index(ctx->def->qemuArgs, i));
    for (guint i = 0; ctx->def->qemuEnv && i < ctx->def->qemuEnv->len; i++) {
        const qvirDomainQemuEnvDef *env = g_ptr_array_index(ctx->def->qemuEnv, i);

        g_ptr_array_add(ctx->cmd->env,
                        g_strdup_printf("%s=%s", env->name, env->value ? env->value : ""));
    }
}

qemuCommandLine *
qemuBuildCommandLine(const qvirDomainDef *def, const qemuCaps *caps,
                     const qemuBuildCommandLineOpts *opts, GError **error)
{
    g_autoptr(qemuCommandLine) cmd = g_new0(qemuCommandLine, 1);
    qemuBuildCommandLineOpts defaultOpts = {.monitorFd = -1, .startPaused = TRUE};
    qemuBuildCtx ctx = {.def = def, .caps = caps, .usbPort = 1};
    g_autoptr(qemuCaps) overridden = NULL;
    const char *emulator;

    g_return_val_if_fail(def != NULL && caps != NULL, NULL);

    if (def->qemuCapsAdd || def->qemuCapsDel) {
        if (!(overridden = qemuBuildCapsOverride(def, caps, error)))
            return NULL;
        caps = ctx.caps = overridden;
    }

    ctx.opts = opts ? opts : &defaultOpts;
    ctx.cmd = cmd;
    ctx.json = qemuCapsGet(caps, QEMU_CAPS_OBJECT_JSON);
    ctx.blockdev = qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV);
    if (!qemuDomainGetMachineKind(def, &ctx.kind, error))
        return NULL;
    if (!ctx.opts->monitorPath && ctx.opts->monitorFd < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "no QMP monitor: neither a socket path nor a file descriptor was given");
        return NULL;
    }

    cmd->env = g_ptr_array_new_with_free_func(g_free);
    cmd->argv = g_ptr_array_new_with_free_func(g_free);
    qemuBuildEnv(&ctx);

    emulator = def->emulator ? def->emulator : qemuCapsGetBinary(caps);
    qemuBuildArg(&ctx, emulator ? emulator : "qemu-system-x86_64");
    qemuBuildName(&ctx);
    if (ctx.opts->startPaused)
        qemuBuildArg(&ctx, "-S");
    qemuBuildMasterKey(&ctx);
    qemuBuildMachine(&ctx);
    qemuBuildCPU(&ctx);
    qemuBuildMemory(&ctx);
    qemuBuildSmpAndUUID(&ctx);
    if (!def->graphics || def->graphics->len == 0)
        qemuBuildArgPair(&ctx, "-display", "none");
    qemuBuildArg(&ctx, "-no-user-config");
    qemuBuildArg(&ctx, "-nodefaults");
    qemuBuildMonitor(&ctx);
    qemuBuildClockPMBoot(&ctx);

    if (!qemuBuildControllers(&ctx, error) || !qemuBuildDisks(&ctx, error) ||
        !qemuBuildNets(&ctx, error) || !qemuBuildSerials(&ctx, error) ||
        !qemuBuildChannels(&ctx, error) || !qemuBuildConsoles(&ctx, error) ||
        !qemuBuildInputs(&ctx, error))
        return NULL;
    qemuBuildAudio(&ctx);
    if (!qemuBuildGraphics(&ctx, error) || !qemuBuildVideos(&ctx, error))
        return NULL;
    if (ctx.opts->incoming)
        qemuBuildArgPair(&ctx, "-incoming", ctx.opts->incoming);
    qemuBuildMemballoon(&ctx);
    qemuBuildRNGs(&ctx);
    qemuBuildQemuNamespace(&ctx);
    if (qemuCapsGet(caps, QEMU_CAPS_SECCOMP_SANDBOX))
        qemuBuildArgPair(&ctx, "-sandbox",
                         "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
                         "resourcecontrol=deny");
    qemuBuildArgPair(&ctx, "-msg", "timestamp=on");

    g_ptr_array_add(cmd->env, NULL);
    g_ptr_array_add(cmd->argv, NULL);
    return g_steal_pointer(&cmd);
}

/* libvirt's virBufferEscapeShell: quote only when a shell metacharacter is present. */
static void
qemuCommandLineAppendShell(GString *buf, const char *arg)
{
    if (*arg && !strpbrk(arg, "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")) {
        g_string_append(buf, arg);
        return;
    }
    g_string_append_c(buf, '\'');
    for (const char *p = arg; *p; p++) {
        if (*p == '\'')
            g_string_append(buf, "'\\''");
        else
            g_string_append_c(buf, *p);
    }
    g_string_append_c(buf, '\'');
}

char *
qemuCommandLineFormat(const qemuCommandLine *cmd)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    gboolean first = TRUE;

    for (guint i = 0; cmd->env && i < cmd->env->len; i++) {
        const char *e = g_ptr_array_index(cmd->env, i);

        if (!e)
            break;
        if (!first)
            g_string_append(buf, " \\\n");
        qemuCommandLineAppendShell(buf, e);
        first = FALSE;
    }
    /* libvirt starts a new line at every option; an option's value stays beside it */
    for (guint i = 0; cmd->argv && i < cmd->argv->len; i++) {
        const char *a = g_ptr_array_index(cmd->argv, i);

        if (!a)
            break;
        if (!first)
            g_string_append(buf, i == 0 || a[0] == '-' ? " \\\n" : " ");
        qemuCommandLineAppendShell(buf, a);
        first = FALSE;
    }
    g_string_append_c(buf, '\n');
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

char *
qemuCommandLineFromDef(qvirDomainDef *def, const qemuCaps *caps,
                       const qemuBuildCommandLineOpts *opts, GError **error)
{
    g_autoptr(qemuCommandLine) cmd = NULL;

    if (!qemuDomainPrepareForStart(def, caps, error) || !qemuValidateDomainDef(def, caps, error) ||
        !(cmd = qemuBuildCommandLine(def, caps, opts, error)))
        return NULL;
    return qemuCommandLineFormat(cmd);
}
