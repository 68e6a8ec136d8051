#!/usr/bin/env bash
# make-rpc-captures.sh - remake exaudit's DCE/RPC endpoint-mapper captures with
# real programs (see captures/RPC.md for what each file holds).
#
# Usage:  sudo bash captures/make-rpc-captures.sh [NAME...]
#   NAME is a capture name without ".pcap" (e.g. epm-rpcdump); with no NAME
#   every capture is remade.  `--list` prints the names.
#
# Runs as root on Debian 12.  It installs its own packages (apt), provisions a
# throw-away Samba 4.17 Active Directory domain controller under a temporary
# directory, runs it (`samba -F`) inside a private network namespace, drives
# real DCE/RPC clients against its endpoint mapper (impacket's rpcdump.py, a
# small impacket ept_map + follow-up client written below, Samba's rpcclient),
# records the traffic with tcpdump on the namespace's loopback interface, and
# stops everything it started on exit (daemons, tcpdump, iptables rule,
# namespace, temporary directory).
#
# ALL traffic stays on 127.0.0.0/8 inside the network namespace "exaudit-rpc"
# (created and deleted by this script), so it neither disturbs nor is seen by
# captures taken on the host's loopback at the same time.  Addresses, as in
# the lab site of make-captures.sh:
#   127.1.0.11   Mailbox server (the RPC client)
#   127.1.0.20   domain controller (Samba AD DC: endpoint mapper on 135,
#                dynamic RPC ports 49152+)
# Clients get their source address 127.1.0.11 from the namespace's routing
# table (the local route to 127.1.0.20 carries "src 127.1.0.11"); the impacket
# client below additionally bind()s its sockets to 127.1.0.11 explicitly.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$HERE}
ALL=(epm-rpcdump epm-map-followup epm-followup-blocked epm-rpcclient)

NS=exaudit-rpc
MBX1=127.1.0.11
DC=127.1.0.20
REALM=LAB.TEST
DOMAIN=LAB
ADMINPASS='Lab-Passw0rd-135'   # throw-away lab DC, deleted on exit
FOLLOWUP_TIMEOUT=5             # seconds the client waits for a blocked port
DYNAMIC_RANGE=49152:65535      # what the "firewall" of epm-followup-blocked drops
MAX_BYTES=$((300 * 1024))

PY=/usr/bin/python3            # Debian's python3 (has python3-impacket)
IMPACKET_EXAMPLES=/usr/share/doc/python3-impacket/examples

PACKAGES=(samba samba-ad-dc samba-ad-provision samba-common-bin winbind smbclient
          python3-impacket tcpdump tshark iptables iproute2 procps)

log() { printf '[make-rpc-captures] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "run as root: sudo bash $0 [NAME...]"

WANT=("$@")
[[ ${#WANT[@]} -eq 0 ]] && WANT=("${ALL[@]}")
for n in "${WANT[@]}"; do
  [[ " ${ALL[*]} " == *" $n "* ]] || die "unknown capture '$n' (try --list)"
done

# --------------------------------------------------------------------------
# packages
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # Installing samba would start smbd/nmbd/samba-ad-dc system services on all
  # interfaces (nmbd broadcasts); forbid service starts while installing.
  local own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" ||
    { apt-get update -o DPkg::Lock::Timeout=600 &&
      apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"; } || rc=$?
  [[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
  [[ $rc -eq 0 ]] || die "apt-get install failed"
}

# --------------------------------------------------------------------------
# work dir, namespace, cleanup
W=""
SAMBA_PID=""
TCPDUMP_PID=""
IPT_RULE=()

in_ns() { ip netns exec "$NS" "$@"; }

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS"; }

# Stop whatever still runs in OUR namespace (daemons of this script, possibly
# left over by an interrupted earlier run), by pid, then delete the namespace.
ns_down() {
  ns_exists || return 0
  local pids p i
  pids=$(ip netns pids "$NS" 2>/dev/null || true)
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(ip netns pids "$NS" 2>/dev/null || true)
    [[ -z $pids ]] && break
    sleep 0.5
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
}

cleanup() {
  set +e
  if [[ -n $TCPDUMP_PID ]]; then kill -TERM "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID" 2>/dev/null; fi
  [[ ${#IPT_RULE[@]} -gt 0 ]] && in_ns iptables -D "${IPT_RULE[@]}" 2>/dev/null
  if [[ -n $SAMBA_PID ]]; then
    kill -TERM "$SAMBA_PID" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$SAMBA_PID" 2>/dev/null || break; sleep 0.5; done
    wait "$SAMBA_PID" 2>/dev/null
  fi
  ns_down
  [[ -n $W && -d $W ]] && rm -rf "$W"
}

ns_up() {
  ns_down
  ip netns add "$NS"
  in_ns ip link set lo up
  in_ns ip addr add "$MBX1/8" dev lo
  in_ns ip addr add "$DC/8" dev lo
  # Source-address selection: anything connecting to the DC comes from MBX1.
  in_ns ip route replace table local local "$DC" dev lo proto kernel scope host src "$MBX1"
  local src
  src=$(in_ns ip -o route get "$DC" | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [[ $src == "$MBX1" ]] || die "source address for $DC is '$src', wanted $MBX1"
}

# --------------------------------------------------------------------------
# the Samba AD DC
start_samba() {
  local S=$W/samba conf
  log "provisioning Samba AD DC $REALM (dc1, $DC) in $S"
  in_ns samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" \
      --server-role=dc --use-rfc2307 --dns-backend=NONE \
      --host-name=DC1 --host-ip="$DC" --adminpass="$ADMINPASS" \
      --targetdir="$S" \
      --option="interfaces = $DC" --option="bind interfaces only = yes" \
      >"$W/provision.log" 2>&1 || { tail -30 "$W/provision.log" >&2; die "samba-tool domain provision failed"; }
  conf=$S/etc/smb.conf
  mkdir -p "$S/log" "$S/run" "$S/cache"
  # Only the services this lab needs (the rpc service holds the endpoint
  # mapper and every AD RPC interface); everything else in private dirs.
  sed -i -e "s|^\tlog file = .*|\tlog file = $S/log/log.%m|" \
         -e "s|^\tserver services = .*|\tserver services = rpc, s3fs, winbindd|" "$conf"
  sed -i "/^\[global\]/a\\
\tpid directory = $S/run\\
\tncalrpc dir = $S/run/ncalrpc\\
\twinbindd socket directory = $S/run/winbindd\\
\tntp signd socket directory = $S/run/ntp_signd\\
\tdisable netbios = yes\\
\tsmb ports = 445\\
\tlog level = 1" "$conf"
  in_ns testparm -s "$conf" >/dev/null 2>&1 || die "testparm rejects $conf"
  log "starting samba (AD DC) in namespace $NS"
  ( cd "$S" && exec ip netns exec "$NS" samba -F --no-process-group -s "$conf" ) \
      >"$W/samba.out" 2>&1 &
  SAMBA_PID=$!
  local i
  for i in $(seq 1 60); do
    if in_ns ss -ltn | grep -q "$DC:135 " && in_ns ss -ltn | grep -q "$DC:4915[0-9] "; then
      sleep 1; return 0
    fi
    kill -0 "$SAMBA_PID" 2>/dev/null || { tail -30 "$W/samba.out" >&2; die "samba exited"; }
    sleep 0.5
  done
  tail -30 "$W/samba.out" >&2
  die "samba did not listen on $DC:135"
}

# --------------------------------------------------------------------------
# client programs written for this lab
write_clients() {
  # ept_map (opnum 3) for each interface, then connect to the TCP port the
  # endpoint mapper handed out, bind the interface, make one call.
  cat >"$W/epm_followup.py" <<'PYEOF'
"""epm_followup.py SERVER SRC TIMEOUT USER PASSWORD DOMAIN IFACE...

For each IFACE (netlogon lsarpc samr drsuapi): open a TCP connection to
SERVER:135, bind the endpoint mapper, ept_map (opnum 3) the interface, close;
then connect to the dynamic port it returned, bind the interface and make one
call.  Sockets are bound to SRC.  Prints one line per interface.
Exit 0 if every follow-up connection was answered and bound, 2 otherwise.
"""
import socket
import sys
import uuid

from impacket.dcerpc.v5 import epm, transport, nrpc, lsad, samr, drsuapi
from impacket.dcerpc.v5.dtypes import NULL
from impacket.dcerpc.v5.rpcrt import (RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
                                      RPC_C_AUTHN_LEVEL_PKT_PRIVACY)

SERVER, SRC, TIMEOUT, USER, PASSWORD, DOMAIN = sys.argv[1:7]
TIMEOUT = float(TIMEOUT)


# impacket has no "source address" option: hand its transport module a socket
# class that binds to SRC before connecting.
class BoundSocket(socket.socket):
    def connect(self, address):
        if self.family == socket.AF_INET:
            self.bind((SRC, 0))
        return super().connect(address)


class SocketModule:
    socket = BoundSocket

    def __getattr__(self, name):
        return getattr(socket, name)


transport.socket = SocketModule()


def dce_for(port, creds):
    t = transport.DCERPCTransportFactory('ncacn_ip_tcp:%s[%d]' % (SERVER, port))
    t.set_connect_timeout(TIMEOUT)
    if creds:
        t.set_credentials(USER, PASSWORD, DOMAIN)
    return t.get_dce_rpc()


def ept_map(iface_uuid):
    dce = dce_for(135, False)
    dce.connect()
    try:
        binding = epm.hept_map(SERVER, iface_uuid, protocol='ncacn_ip_tcp', dce=dce)
    finally:
        dce.disconnect()
    return int(binding.split('[')[1].rstrip(']'))


def netlogon(dce):
    nrpc.hNetrServerReqChallenge(dce, NULL, 'MBX1\x00', b'12345678')
    return 'NetrServerReqChallenge'


def lsarpc(dce):
    resp = lsad.hLsarOpenPolicy2(dce, lsad.POLICY_VIEW_LOCAL_INFORMATION)
    lsad.hLsarClose(dce, resp['PolicyHandle'])
    return 'LsarOpenPolicy2+LsarClose'


def samr_call(dce):
    resp = samr.hSamrConnect(dce)
    samr.hSamrCloseHandle(dce, resp['ServerHandle'])
    return 'SamrConnect+SamrCloseHandle'


def drs(dce):
    request = drsuapi.DRSBind()
    request['puuidClientDsa'] = drsuapi.NTDSAPI_CLIENT_GUID
    ext = drsuapi.DRS_EXTENSIONS_INT()
    ext['cb'] = len(ext)
    ext['dwFlags'] = (drsuapi.DRS_EXT_GETCHGREQ_V6 | drsuapi.DRS_EXT_GETCHGREPLY_V6
                      | drsuapi.DRS_EXT_GETCHGREQ_V8 | drsuapi.DRS_EXT_STRONG_ENCRYPTION)
    ext['SiteObjGuid'] = drsuapi.NULLGUID
    ext['Pid'] = 0
    ext['dwReplEpoch'] = 0
    ext['dwFlagsExt'] = 0
    ext['ConfigObjGUID'] = drsuapi.NULLGUID
    ext['dwExtCaps'] = 0xffffffff
    request['pextClient']['cb'] = len(ext)
    request['pextClient']['rgb'] = list(ext.getData())
    resp = dce.request(request)
    drsuapi.hDRSUnbind(dce, resp['phDrs'])
    return 'DRSBind+DRSUnbind'


# name: (interface, needs credentials, auth level, call)
TABLE = {
    'netlogon': (nrpc.MSRPC_UUID_NRPC, False, None, netlogon),
    'lsarpc': (lsad.MSRPC_UUID_LSAD, True, RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, lsarpc),
    'samr': (samr.MSRPC_UUID_SAMR, True, RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, samr_call),
    'drsuapi': (drsuapi.MSRPC_UUID_DRSUAPI, True, RPC_C_AUTHN_LEVEL_PKT_PRIVACY, drs),
}

status = 0
for name in sys.argv[7:]:
    iface, creds, level, call = TABLE[name]
    text = str(uuid.UUID(bytes_le=iface[:16]))
    port = ept_map(iface)
    stage = 'connect'
    try:
        dce = dce_for(port, creds)
        dce.connect()
        try:
            stage = 'bind'
            if level is not None:
                dce.set_auth_level(level)
            dce.bind(iface)
            stage = 'call'
            result = 'connected, bound, %s ok' % call(dce)
        finally:
            dce.disconnect()
    except Exception as e:
        if stage == 'call':
            result = 'connected, bound, call answered with error: %s' % e
        else:
            status = 2
            result = 'FAILED at %s: %s' % (stage, e)
    print('%-8s %s ept_map->port %d: %s' % (name, text, port, result), flush=True)
sys.exit(status)
PYEOF

  cat >"$W/client.conf" <<EOF
[global]
	workgroup = $DOMAIN
	realm = $REALM
	client use kerberos = off
	name resolve order = host
	disable netbios = yes
	log file = $W/rpcclient-state/log.%m
	lock directory = $W/rpcclient-state
	state directory = $W/rpcclient-state
	cache directory = $W/rpcclient-state
	private dir = $W/rpcclient-state
	pid directory = $W/rpcclient-state
EOF
  mkdir -p "$W/rpcclient-state"
}

# --------------------------------------------------------------------------
# capture helpers
cap_start() {   # NAME
  local f=$W/$1.pcap
  rm -f "$f"
  # Not through a shell function: $! must be tcpdump itself (ip netns exec
  # execs it), and background jobs of a script ignore SIGINT, so stop it
  # with SIGTERM (tcpdump flushes and closes the file on TERM as on INT).
  ip netns exec "$NS" tcpdump -i lo -n -s 0 -U -Z root -w "$f" "host $DC" 2>"$W/$1.tcpdump.log" &
  TCPDUMP_PID=$!
  local i
  for i in $(seq 1 50); do
    grep -q 'listening on' "$W/$1.tcpdump.log" 2>/dev/null && break
    sleep 0.1
  done
  sleep 1
}

cap_stop() {    # NAME
  sleep 1
  kill -TERM "$TCPDUMP_PID" 2>/dev/null || true
  wait "$TCPDUMP_PID" 2>/dev/null || true
  TCPDUMP_PID=""
  local f=$W/$1.pcap size
  [[ -s $f ]] || die "$1: empty capture"
  size=$(stat -c %s "$f")
  [[ $size -le $MAX_BYTES ]] || die "$1: capture is $size bytes (> $MAX_BYTES)"
  install -m 0644 "$f" "$OUT/$1.pcap"
  log "$1: wrote $OUT/$1.pcap ($(tshark -r "$f" 2>/dev/null | wc -l) packets, $size bytes)"
}

epm_fields() {  # FILE: the EPM answers (ports, addresses, interfaces)
  tshark -r "$1" -Y epm -T fields -e frame.number -e epm.opnum \
      -e epm.proto.tcp_port -e epm.proto.ip -e epm.uuid 2>/dev/null
}

verify() {      # NAME: print the checks RPC.md quotes
  local f=$OUT/$1.pcap
  echo "=== $1.pcap: $(tshark -r "$f" 2>/dev/null | wc -l) packets"
  echo "--- tshark -r $1.pcap -Y epm -T fields -e frame.number -e epm.opnum -e epm.proto.tcp_port -e epm.proto.ip -e epm.uuid"
  epm_fields "$f"
  echo "--- tshark -r $1.pcap -q -z conv,tcp"
  tshark -r "$f" -q -z conv,tcp 2>/dev/null
  echo "--- binds (dcerpc.pkt_type 11 = bind, 12 = bind_ack)"
  tshark -r "$f" -Y 'dcerpc.pkt_type == 11 || dcerpc.pkt_type == 12' -T fields \
      -e frame.number -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport \
      -e dcerpc.pkt_type -e dcerpc.cn_bind_to_uuid 2>/dev/null
}

# Ports announced in ept_map answers (opnum 3, non-zero port) of FILE.
announced_ports() {
  tshark -r "$1" -Y 'epm.opnum == 3 && dcerpc.pkt_type == 2' -T fields \
      -e epm.proto.tcp_port 2>/dev/null | tr ',' '\n' | grep -v '^0$' | sort -un
}

# Check: every announced port was connected to and answered (SYN-ACK seen).
check_followups_answered() {
  local f=$1 p n=0
  for p in $(announced_ports "$f"); do
    tshark -r "$f" -Y "tcp.srcport == $p && tcp.flags.syn == 1 && tcp.flags.ack == 1" 2>/dev/null |
        grep -q . || die "$(basename "$f"): announced port $p was never answered"
    n=$((n + 1))
  done
  [[ $n -ge 1 ]] || die "$(basename "$f"): no ports announced"
}

# Check: every announced port got SYNs and never a SYN-ACK.
check_followups_blocked() {
  local f=$1 p n=0
  for p in $(announced_ports "$f"); do
    tshark -r "$f" -Y "tcp.dstport == $p && tcp.flags.syn == 1 && tcp.flags.ack == 0" 2>/dev/null |
        grep -q . || die "$(basename "$f"): no SYN to announced port $p"
    ! tshark -r "$f" -Y "tcp.srcport == $p && tcp.flags.syn == 1 && tcp.flags.ack == 1" 2>/dev/null |
        grep -q . || die "$(basename "$f"): announced port $p answered although blocked"
    n=$((n + 1))
  done
  [[ $n -ge 1 ]] || die "$(basename "$f"): no ports announced"
}

# --------------------------------------------------------------------------
# the captures
make_epm_rpcdump() {
  cap_start epm-rpcdump
  in_ns "$PY" "$IMPACKET_EXAMPLES/rpcdump.py" -port 135 "$DC" >"$W/rpcdump.out" 2>&1 || true
  cap_stop epm-rpcdump
  sed 's/^/    rpcdump.py: /' "$W/rpcdump.out" >&2
  tshark -r "$OUT/epm-rpcdump.pcap" -Y 'epm.opnum == 2 && dcerpc.pkt_type == 2' 2>/dev/null |
      grep -q . || die "epm-rpcdump: no ept_lookup answer"
}

make_epm_map_followup() {
  cap_start epm-map-followup
  in_ns "$PY" "$W/epm_followup.py" "$DC" "$MBX1" 30 Administrator "$ADMINPASS" "$DOMAIN" \
      netlogon drsuapi samr lsarpc >"$W/followup.out" 2>&1 || { cat "$W/followup.out" >&2; die "follow-up failed"; }
  cap_stop epm-map-followup
  sed 's/^/    epm_followup.py: /' "$W/followup.out" >&2
  check_followups_answered "$OUT/epm-map-followup.pcap"
}

make_epm_followup_blocked() {
  # A "firewall" on the DC that allows the endpoint mapper (135) but drops the
  # dynamic RPC range.  SYNs are still seen on lo (captured before INPUT).
  IPT_RULE=(INPUT -i lo -d "$DC" -p tcp --dport "$DYNAMIC_RANGE" -j DROP)
  in_ns iptables -I "${IPT_RULE[@]}"
  cap_start epm-followup-blocked
  local rc=0
  in_ns "$PY" "$W/epm_followup.py" "$DC" "$MBX1" "$FOLLOWUP_TIMEOUT" Administrator "$ADMINPASS" "$DOMAIN" \
      netlogon drsuapi >"$W/blocked.out" 2>&1 || rc=$?
  cap_stop epm-followup-blocked
  in_ns iptables -D "${IPT_RULE[@]}"
  IPT_RULE=()
  sed 's/^/    epm_followup.py: /' "$W/blocked.out" >&2
  [[ $rc -eq 2 ]] || die "blocked follow-up: client exit $rc, expected 2 (timeouts)"
  check_followups_blocked "$OUT/epm-followup-blocked.pcap"
}

make_epm_rpcclient() {
  # rpcclient with a port-less ncacn_ip_tcp binding asks the EPM (ept_map)
  # for every pipe it opens: lsarpc (getusername), dssetup (dsroledominfo),
  # samr (enumdomains).
  cap_start epm-rpcclient
  in_ns timeout 60 rpcclient -s "$W/client.conf" -U "$DOMAIN/Administrator%$ADMINPASS" \
      -c 'getusername;dsroledominfo;enumdomains' "ncacn_ip_tcp:$DC" >"$W/rpcclient.out" 2>&1 ||
      { cat "$W/rpcclient.out" >&2; cap_stop epm-rpcclient; die "rpcclient failed"; }
  cap_stop epm-rpcclient
  sed 's/^/    rpcclient: /' "$W/rpcclient.out" >&2
  check_followups_answered "$OUT/epm-rpcclient.pcap"
}

# --------------------------------------------------------------------------
main() {
  install_packages
  W=$(mktemp -d /tmp/exaudit-rpc.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  log "versions: $(samba -V) | rpcclient $(rpcclient --version) | impacket $($PY -c 'from impacket import version; print(version.version)')" \
      "| $(tcpdump --version 2>&1 | head -1) | $(tshark --version 2>/dev/null | head -1)"
  ns_up
  start_samba
  write_clients
  local n
  for n in "${WANT[@]}"; do
    log "making $n"
    "make_${n//-/_}"
  done
  for n in "${WANT[@]}"; do verify "$n"; done
}

main
