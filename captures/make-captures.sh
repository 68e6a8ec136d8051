#!/usr/bin/env bash
# make-captures.sh - remake exaudit's lab packet captures with real programs.
#
# Usage:  sudo bash captures/make-captures.sh [NAME...]
#   NAME is a capture name without ".pcap" (e.g. smtp-plain edge-bypass);
#   with no NAME every capture is remade.  `--list` prints the names.
#
# Runs as root on Debian 12.  It installs its own packages (apt), starts every
# server (Postfix x2, OpenLDAP slapd x2, dnsmasq, nginx, Dovecot, socat) with
# private configuration under a temporary directory, drives real clients
# (swaks, curl, dig, ldapsearch, nc) against them, records the traffic with
# tcpdump on the loopback interface, and stops everything it started on exit.
#
# ALL traffic stays on 127.0.0.0/8.  Distinct loopback addresses stand for the
# hosts of the lab site (see site-edge.toml):
#   127.200.0.1, 127.200.0.2  internet hosts
#   127.16.0.10               Edge Transport server (perimeter)
#   127.1.0.11, 127.1.0.12    Mailbox servers
#   127.1.0.20                domain controller + DNS
#   127.2.0.50                internal client
# Nothing resolves names through the system resolver: servers are told their
# names, clients are given addresses, Postfix peer-name and DNS lookups are off.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$HERE}
ALL=(smtp-plain smtp-starttls edge-topology edge-bypass http-exchange-paths dns
     ldap-simple-bind pop3-imap refused-and-dropped)

INET1=127.200.0.1
INET2=127.200.0.2
EDGE=127.16.0.10
MBX1=127.1.0.11
MBX2=127.1.0.12   # declared in the topology; not used as an endpoint
DC=127.1.0.20
CLIENT=127.2.0.50

PACKAGES=(tcpdump tshark postfix swaks libnet-ssleay-perl libio-socket-ssl-perl
          slapd ldap-utils dnsmasq-base bind9-dnsutils nginx-light
          dovecot-imapd dovecot-pop3d socat netcat-openbsd iptables openssl curl
          ca-certificates procps iproute2 bsdutils python3)

log() { printf '[make-captures] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ ${1:-} == --list ]]; then printf '%s\n' "${ALL[@]}"; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "run as root: sudo bash $0 [NAME...]"

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
  # Install the daemons unconfigured: we only use them with private configs.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # On a machine with an init system the packages would start their system
  # services (nginx on *:80, Dovecot on *:143 ...); forbid that while installing.
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
# work dir, cleanup
W=""
PIDS=()            # pids of daemons we started (kill on exit)
POSTFIX_DIRS=()    # postfix config dirs we started
IPT_RULE=()        # iptables rule to remove on exit
TCPDUMP_PID=""

cleanup() {
  set +e
  [[ -n $TCPDUMP_PID ]] && kill -INT "$TCPDUMP_PID" 2>/dev/null && wait "$TCPDUMP_PID" 2>/dev/null
  [[ ${#IPT_RULE[@]} -gt 0 ]] && iptables -D "${IPT_RULE[@]}" 2>/dev/null
  local d p f
  for d in "${POSTFIX_DIRS[@]}"; do postfix -c "$d" stop >/dev/null 2>&1; done
  # pid files written by daemons that fork
  for f in "$W"/run/*.pid; do
    [[ -f $f ]] || continue
    p=$(head -n1 "$f" 2>/dev/null); [[ $p =~ ^[0-9]+$ ]] && kill "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  if [[ -n $W && -d $W && -z ${KEEP_WORKDIR:-} ]]; then rm -rf "$W"; elif [[ -n $W ]]; then log "work dir kept: $W"; fi
}

setup_workdir() {
  W=$(mktemp -d /tmp/exaudit-captures.XXXXXX)
  chmod 755 "$W"   # postfix/dovecot/slapd helpers run unprivileged
  mkdir -p "$W/run" "$W/certs" "$W/logs"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# refuse to run over leftovers (e.g. daemons of an earlier run killed by -9)
check_free() {
  local busy
  busy=$(ss -Hltun 2>/dev/null | awk '{print $5}' |
         grep -E "^($INET1|$INET2|$EDGE|$MBX1|$MBX2|$DC|$CLIENT):" || true)
  [[ -z $busy ]] || die "lab addresses already in use (leftover daemons?): $busy"
  # a wildcard listener (e.g. a system nginx on *:80) would take our ports
  busy=$(ss -Hltun 2>/dev/null | awk '{print $5}' |
         grep -E '^(0\.0\.0\.0|\*|\[::\]):(25|53|80|110|135|143|389|443|50636)$' || true)
  [[ -z $busy ]] || die "wildcard listeners on lab ports (stop those services first): $busy"
}

# wait until something listens on ADDR:PORT (tcp) or give up
wait_port() {
  local addr=$1 port=$2 i
  for i in $(seq 1 100); do
    if ss -Hltn "src $addr:$port" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  die "nothing listens on $addr:$port"
}

# --------------------------------------------------------------------------
# capture helpers
cap_start() { # NAME FILTER
  local name=$1 filter=$2
  CAP_NAME=$name
  rm -f "$OUT/$name.pcap.part"
  tcpdump -i lo -n -U -s 0 -Z root -w "$OUT/$name.pcap.part" "$filter" \
    2>"$W/logs/tcpdump-$name.log" &
  TCPDUMP_PID=$!
  local i
  for i in $(seq 1 100); do
    grep -q 'listening on' "$W/logs/tcpdump-$name.log" && break
    sleep 0.1
  done
  sleep 0.5
  log "capturing $name.pcap ($filter)"
}

cap_stop() {
  sleep 1.5   # let the last FIN/ACKs through
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=""
  mv "$OUT/$CAP_NAME.pcap.part" "$OUT/$CAP_NAME.pcap"
  chmod 644 "$OUT/$CAP_NAME.pcap"
  log "wrote $OUT/$CAP_NAME.pcap: $(tail -n3 "$W/logs/tcpdump-$CAP_NAME.log" | head -n1)"
}

# --------------------------------------------------------------------------
# certificates (self-signed, RSA 2048 so that old TLS versions still work)
make_cert() { # NAME CN
  local name=$1 cn=$2
  [[ -f $W/certs/$name.crt ]] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -subj "/O=exaudit lab/CN=$cn" -addext "subjectAltName=DNS:$cn" \
    -keyout "$W/certs/$name.key" -out "$W/certs/$name.crt" 2>/dev/null
  chmod 644 "$W/certs/$name.crt" "$W/certs/$name.key"
}

# --------------------------------------------------------------------------
# Postfix instances (one per host), private config + queue dirs
postfix_instance() { # NAME ADDR HOSTNAME EXTRA_MAIN_CF
  local name=$1 addr=$2 host=$3 extra=$4
  local cfg=$W/postfix-$name q=$W/postfix-$name-queue data=$W/postfix-$name-data
  [[ -d $cfg ]] && return 0
  mkdir -p "$cfg" "$q" "$data"
  chown postfix "$data"
  # Postfix refuses inet_interfaces that are not interface addresses (only
  # 127.0.0.1 is), so the listener address goes into master.cf instead.
  sed "s/^smtp      inet /$addr:25 inet /" /usr/share/postfix/master.cf.dist >"$cfg/master.cf"
  grep -q "^$addr:25 inet" "$cfg/master.cf" || die "cannot edit master.cf"
  cat >"$cfg/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $q
data_directory = $data
meta_directory = /etc/postfix
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $W
maillog_file = $W/logs/postfix-$name.log
myhostname = $host
mydomain = lab.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_banner = \$myhostname ESMTP
# never ask the system resolver anything: everything here is on loopback
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
$extra
EOF
  # postfix prints its errors only to a terminal: give it one via script(1)
  script -qec "postfix -c $cfg check && postfix -c $cfg start" /dev/null >"$W/logs/postfix-$name-start.log" 2>&1 ||
    { cat "$W/logs/postfix-$name-start.log" >&2; die "postfix $name did not start"; }
  POSTFIX_DIRS+=("$cfg")
  wait_port "$addr" 25
}

need_postfix_mailbox() {
  postfix_instance mbx1 "$MBX1" mbx1.lab.test "
# Mailbox server: accepts mail for lab.test (no TLS offered) and stores it
# nowhere (discard = the mailbox store of this lab).
mynetworks = 127.1.0.0/16, $EDGE/32
relay_domains = lab.test
relay_transport = discard:stored in the lab mailbox
default_transport = discard:no internet delivery in the lab
smtpd_tls_security_level = none
smtp_tls_security_level = none"
}

need_postfix_edge() {
  make_cert edge edge.lab.test
  postfix_instance edge "$EDGE" edge.lab.test "
# Edge Transport: STARTTLS offered; mail for lab.test relayed to the Mailbox
# server from the Edge's own address; outbound mail (organisation -> internet)
# is accepted from the Mailbox servers and discarded (no internet in the lab).
mynetworks = 127.1.0.0/16, $EDGE/32
relay_domains = lab.test
relay_transport = relay:[$MBX1]:25
default_transport = discard:no internet delivery in the lab
smtp_bind_address = $EDGE
smtpd_tls_security_level = may
smtpd_tls_cert_file = $W/certs/edge.crt
smtpd_tls_key_file = $W/certs/edge.key
smtpd_tls_loglevel = 1
smtp_tls_security_level = may"
}

# wait until a Postfix queue is empty (mail relayed or discarded)
postfix_drain() { # NAME
  local q=$W/postfix-$1-queue i n
  for i in $(seq 1 100); do
    n=$(find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" -type f 2>/dev/null | wc -l)
    [[ $n -eq 0 ]] && return 0
    sleep 0.2
  done
  log "warning: postfix $1 queue not empty after 20s"
}

swaks_send() { # FROM_ADDR SERVER:PORT MAIL_FROM RCPT HELO [extra swaks args...]
  local src=$1 server=$2 from=$3 to=$4 helo=$5; shift 5
  swaks --server "$server" --local-interface "$src" --helo "$helo" \
    --from "$from" --to "$to" --header "Subject: exaudit lab message" \
    --body "This message was sent by swaks for an exaudit lab capture." \
    --timeout 20 "$@" >"$W/logs/swaks-$src-$server.log" 2>&1 ||
    { cat "$W/logs/swaks-$src-$server.log" >&2; die "swaks $src -> $server failed"; }
}

# --------------------------------------------------------------------------
# dnsmasq on the DC
need_dnsmasq() {
  [[ -f $W/run/dnsmasq.pid ]] && return 0
  dnsmasq --conf-file=/dev/null --pid-file="$W/run/dnsmasq.pid" \
    --listen-address="$DC" --bind-interfaces --port=53 \
    --no-resolv --no-hosts --no-poll --no-negcache \
    --log-queries --log-facility="$W/logs/dnsmasq.log" \
    --domain=lab.test --local=/lab.test/ --local=/example.org/ \
    --host-record=edge.lab.test,"$EDGE" \
    --host-record=mbx1.lab.test,"$MBX1" --host-record=mbx2.lab.test,"$MBX2" \
    --host-record=mail.lab.test,"$MBX1" --host-record=dc.lab.test,"$DC" \
    --host-record=mx.example.org,"$INET2" --host-record=www.example.org,"$INET1" \
    --mx-host=lab.test,edge.lab.test,10 --mx-host=example.org,mx.example.org,10
  for _ in $(seq 1 50); do [[ -s $W/run/dnsmasq.pid ]] && break; sleep 0.1; done
  wait_port "$DC" 53
}

# --------------------------------------------------------------------------
# OpenLDAP slapd: one on the DC (ldap 389 + StartTLS), one on the Edge
# (ldaps 50636, standing for AD LDS / EdgeSync)
slapd_instance() { # NAME SUFFIX CERTNAME URLS
  local name=$1 suffix=$2 cert=$3 urls=$4
  local d=$W/slapd-$name
  [[ -d $d ]] && return 0
  mkdir -p "$d/db"
  local dc1=${suffix#dc=}; dc1=${dc1%%,*}
  cat >"$d/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $W/run/slapd-$name.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $W/certs/$cert.crt
TLSCertificateKeyFile $W/certs/$cert.key
database mdb
maxsize 10485760
suffix "$suffix"
rootdn "cn=admin,$suffix"
rootpw secret
directory $d/db
access to * by * read
EOF
  cat >"$d/base.ldif" <<EOF
dn: $suffix
objectClass: dcObject
objectClass: organization
o: exaudit lab
dc: $dc1

dn: ou=people,$suffix
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,$suffix
objectClass: inetOrgPerson
uid: alice
cn: Alice Lab
sn: Lab
mail: alice@lab.test
userPassword: alicepw
EOF
  slapadd -f "$d/slapd.conf" -l "$d/base.ldif" >/dev/null 2>&1 ||
    slapadd -f "$d/slapd.conf" -l "$d/base.ldif"
  slapd -f "$d/slapd.conf" -h "$urls"
}

need_slapd_dc() {
  make_cert dc dc.lab.test
  slapd_instance dc "dc=lab,dc=test" dc "ldap://$DC:389/"
  wait_port "$DC" 389
}

need_slapd_edge() {
  make_cert edge edge.lab.test
  slapd_instance edge "dc=edge,dc=lab,dc=test" edge "ldaps://$EDGE:50636/"
  wait_port "$EDGE" 50636
}

# ldapsearch/ldapwhoami cannot take a source address on the command line, but
# libldap 2.5 honours SOCKET_BIND_ADDRESSES from an ldaprc file (LDAPRC).
ldap_client() { # SOURCE_ADDR ldap-command args...
  local src=$1; shift
  local rc=$W/ldaprc-$src
  printf 'SOCKET_BIND_ADDRESSES %s\nTLS_REQCERT never\n' "$src" >"$rc"
  LDAPCONF=$rc "$@"
}

# --------------------------------------------------------------------------
# nginx on Mailbox 1 (Client Access front end): 80 and 443
need_nginx() {
  [[ -f $W/run/nginx.pid ]] && return 0
  make_cert mail mail.lab.test
  local d=$W/nginx
  mkdir -p "$d/tmp"
  local loc='
    location /owa/ { return 200 "Outlook on the web\n"; }
    location /EWS/ { return 200 "Exchange Web Services\n"; }
    location /mapi/ { return 200 "MAPI over HTTP\n"; }
    location /Microsoft-Server-ActiveSync { return 200 "Exchange ActiveSync\n"; }
    location /autodiscover/ { return 200 "Autodiscover\n"; }
    location /OAB/ { return 200 "Offline Address Book\n"; }
    location /ecp/ { return 200 "Exchange admin center\n"; }
    location /rpc/ { return 200 "Outlook Anywhere\n"; }
    location / { return 404; }'
  cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $W/run/nginx.pid;
error_log $W/logs/nginx-error.log info;
events { worker_connections 64; }
http {
  access_log $W/logs/nginx-access.log;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  default_type text/plain;
  server_tokens on;
  server {
    listen $MBX1:80;
    server_name mail.lab.test;
    location = /owa/ { return 301 https://mail.lab.test/owa/; }
    $loc
  }
  server {
    listen $MBX1:443 ssl;
    server_name mail.lab.test;
    ssl_certificate $W/certs/mail.crt;
    ssl_certificate_key $W/certs/mail.key;
    # allow the old protocols too, so that a TLS 1.0 handshake can be recorded
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_ciphers DEFAULT:@SECLEVEL=0;
    $loc
  }
}
EOF
  nginx -p "$d" -c "$d/nginx.conf" -g 'daemon on;'
  wait_port "$MBX1" 80
  wait_port "$MBX1" 443
}

# --------------------------------------------------------------------------
# Dovecot on Mailbox 1: POP3 110 and IMAP 143, STARTTLS/STLS available
need_dovecot() {
  [[ -d $W/dovecot ]] && return 0
  make_cert mail mail.lab.test
  local d=$W/dovecot
  mkdir -p "$d/run" "$d/state" "$d/home/alice/Maildir/"{cur,new,tmp}
  cat >"$d/home/alice/Maildir/new/1700000000.M1P1.mbx1" <<'EOF'
From: bob@example.org
To: alice@lab.test
Subject: exaudit lab message
Date: Tue, 14 Nov 2023 22:13:20 +0000
Message-ID: <lab-1@example.org>

Hello Alice, this message waits in the lab mailbox.
EOF
  chown -R nobody:nogroup "$d/home"
  printf 'alice:{PLAIN}alicepw::::::\n' >"$d/passwd"
  cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
instance_name = exaudit-lab
log_path = $W/logs/dovecot.log
protocols = imap pop3
listen = $MBX1
hostname = mbx1.lab.test
login_greeting = Lab mailbox ready.
ssl = yes
ssl_cert = <$W/certs/mail.crt
ssl_key = <$W/certs/mail.key
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = $d/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/home/%n
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
service imap-login {
  inet_listener imap {
    address = $MBX1
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $MBX1
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
EOF
  dovecot -c "$d/dovecot.conf"
  ln -sf "$d/run/master.pid" "$W/run/dovecot.pid"
  wait_port "$MBX1" 110
  wait_port "$MBX1" 143
}

# --------------------------------------------------------------------------
# traffic pieces
edge_topology_traffic() {
  need_postfix_mailbox; need_postfix_edge; need_slapd_edge; need_dnsmasq
  # internet -> Edge 25 (STARTTLS), then Edge -> Mailbox 25 (Postfix relay)
  swaks_send "$INET1" "$EDGE:25" bob@example.org alice@lab.test mx.example.org --tls
  postfix_drain edge
  # Edge -> DNS 53: next-hop lookup for outbound mail, UDP and TCP
  dig -b "$EDGE" @"$DC" MX example.org +tries=1 +time=3 >/dev/null
  dig -b "$EDGE" @"$DC" A mx.example.org +tries=1 +time=3 >/dev/null
  dig -b "$EDGE" @"$DC" MX example.org +tcp +tries=1 +time=3 >/dev/null
  # Mailbox -> Edge 25: outbound message (organisation -> internet)
  swaks_send "$MBX1" "$EDGE:25" alice@lab.test bob@example.org mbx1.lab.test --tls
  postfix_drain edge
  # Mailbox -> Edge 50636: EdgeSync over LDAPS (simple bind, search, whoami)
  ldap_client "$MBX1" ldapsearch -LLL -x -H "ldaps://$EDGE:50636" \
    -D "cn=admin,dc=edge,dc=lab,dc=test" -w secret \
    -b "dc=edge,dc=lab,dc=test" '(objectClass=*)' dn >/dev/null
}

# --------------------------------------------------------------------------
# the captures
cap_smtp_plain() {
  need_postfix_mailbox
  cap_start smtp-plain "tcp port 25 and host $INET1 and host $MBX1"
  swaks_send "$INET1" "$MBX1:25" bob@example.org alice@lab.test mx.example.org
  cap_stop
}

cap_smtp_starttls() {
  need_postfix_mailbox; need_postfix_edge
  cap_start smtp-starttls "tcp port 25 and host $INET1 and host $EDGE"
  swaks_send "$INET1" "$EDGE:25" bob@example.org alice@lab.test mx.example.org --tls
  cap_stop
  postfix_drain edge
}

TOPO_FILTER="(host $INET1 or host $INET2 or host $EDGE or host $MBX1 or host $MBX2 or host $DC or host $CLIENT) and not host 127.0.0.1"

cap_edge_topology() {
  need_postfix_mailbox; need_postfix_edge; need_slapd_edge; need_dnsmasq
  cap_start edge-topology "$TOPO_FILTER"
  edge_topology_traffic
  cap_stop
}

need_rpc_listener() {
  [[ -f $W/run/socat-135.pid ]] && return 0
  # something really listening on the RPC endpoint-mapper port of the Mailbox
  socat TCP-LISTEN:135,bind="$MBX1",reuseaddr,fork OPEN:/dev/null,wronly \
    >"$W/logs/socat-135.log" 2>&1 &
  echo $! >"$W/run/socat-135.pid"; PIDS+=($!)
  wait_port "$MBX1" 135
}

cap_edge_bypass() {
  need_postfix_mailbox; need_postfix_edge; need_slapd_edge; need_dnsmasq; need_rpc_listener
  cap_start edge-bypass "$TOPO_FILTER"
  edge_topology_traffic
  # the bypass: internet straight to the Mailbox server, SMTP and RPC 135
  swaks_send "$INET2" "$MBX1:25" carol@example.org alice@lab.test mx.example.org
  # (socat accepts and closes; no DCE/RPC is spoken: handshake + FIN only)
  nc -N -s "$INET2" -w 3 "$MBX1" 135 </dev/null || true
  cap_stop
}

cap_http_exchange_paths() {
  need_nginx
  cap_start http-exchange-paths "host $CLIENT and host $MBX1 and (tcp port 80 or tcp port 443)"
  local c=(curl -sS -o /dev/null --interface "$CLIENT" --max-time 10)
  local p
  for p in /owa/ /EWS/Exchange.asmx '/mapi/emsmdb/?MailboxId=x' /Microsoft-Server-ActiveSync \
           /autodiscover/autodiscover.xml /OAB/ /ecp/ /rpc/rpcproxy.dll; do
    "${c[@]}" "http://mail.lab.test$p" --resolve "mail.lab.test:80:$MBX1"
  done
  # credentials in clear text: Basic and an NTLM NEGOTIATE message
  "${c[@]}" -u user:secret "http://mail.lab.test/EWS/Exchange.asmx" --resolve "mail.lab.test:80:$MBX1"
  "${c[@]}" -H 'Authorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==' \
    "http://mail.lab.test/mapi/emsmdb/?MailboxId=x" --resolve "mail.lab.test:80:$MBX1"
  # Outlook Anywhere verb
  "${c[@]}" -X RPC_IN_DATA -H 'Content-Length: 0' \
    "http://mail.lab.test/rpc/rpcproxy.dll?mail.lab.test:6001" --resolve "mail.lab.test:80:$MBX1"
  # HTTPS with SNI mail.lab.test: TLS 1.2, TLS 1.3, and TLS 1.0 if negotiable
  "${c[@]}" -k --tlsv1.2 --tls-max 1.2 --resolve "mail.lab.test:443:$MBX1" https://mail.lab.test/owa/
  "${c[@]}" -k --tlsv1.3 --resolve "mail.lab.test:443:$MBX1" https://mail.lab.test/EWS/Exchange.asmx
  if "${c[@]}" -k --tlsv1.0 --tls-max 1.0 --ciphers 'DEFAULT:@SECLEVEL=0' \
      --resolve "mail.lab.test:443:$MBX1" https://mail.lab.test/Microsoft-Server-ActiveSync \
      2>"$W/logs/curl-tls10.log"; then
    TLS10=yes
  else
    TLS10=no; log "TLS 1.0 could not be negotiated: $(cat "$W/logs/curl-tls10.log")"
  fi
  cap_stop
}

cap_dns() {
  need_dnsmasq
  cap_start dns "host $MBX1 and host $DC and port 53"
  dig -b "$MBX1" @"$DC" A mail.lab.test +tries=1 +time=3 >/dev/null
  dig -b "$MBX1" @"$DC" MX lab.test +tries=1 +time=3 >/dev/null
  dig -b "$MBX1" @"$DC" MX example.org +tcp +tries=1 +time=3 >/dev/null
  cap_stop
}

cap_ldap_simple_bind() {
  need_slapd_dc
  cap_start ldap-simple-bind "host $MBX1 and host $DC and tcp port 389"
  # cleartext simple binds: the admin, then a user
  ldap_client "$MBX1" ldapsearch -LLL -x -H "ldap://$DC" -D "cn=admin,dc=lab,dc=test" -w secret \
    -b "dc=lab,dc=test" '(uid=alice)' cn mail >/dev/null
  ldap_client "$MBX1" ldapsearch -LLL -x -H "ldap://$DC" \
    -D "uid=alice,ou=people,dc=lab,dc=test" -w alicepw -b "dc=lab,dc=test" '(uid=alice)' cn >/dev/null
  # the same bind protected by StartTLS
  ldap_client "$MBX1" ldapsearch -LLL -ZZ -x -H "ldap://$DC" -D "cn=admin,dc=lab,dc=test" -w secret \
    -b "dc=lab,dc=test" '(uid=alice)' cn >/dev/null
  cap_stop
}

cap_pop3_imap() {
  need_dovecot
  cap_start pop3-imap "host $CLIENT and host $MBX1 and (tcp port 110 or tcp port 143)"
  local c=(curl -sS -o /dev/null --interface "$CLIENT" --max-time 10 --user alice:alicepw)
  "${c[@]}" "pop3://$MBX1/"                         # cleartext SASL AUTH PLAIN, LIST
  "${c[@]}" "pop3://$MBX1/1"                        # cleartext AUTH PLAIN, RETR 1
  "${c[@]}" "imap://$MBX1/INBOX"                    # cleartext AUTHENTICATE PLAIN, LIST
  "${c[@]}" "imap://$MBX1/INBOX;UID=1"              # cleartext AUTHENTICATE PLAIN, UID FETCH
  "${c[@]}" --login-options AUTH=LOGIN "pop3://$MBX1/"   # SASL AUTH LOGIN
  # curl 7.88 always prefers SASL when the server offers it; the classic
  # POP3 USER/PASS and IMAP LOGIN commands come from Python's poplib/imaplib
  # (bound to the client address).
  /usr/bin/python3 - "$CLIENT" "$MBX1" <<'PY'
import imaplib, poplib, socket, sys
src, dst = sys.argv[1], sys.argv[2]
def connect(self, timeout=10):
    return socket.create_connection((self.host, self.port), timeout, source_address=(src, 0))
class POP3(poplib.POP3):
    _create_socket = connect
class IMAP4(imaplib.IMAP4):
    _create_socket = connect
p = POP3(dst, 110, timeout=10)
p.user("alice"); p.pass_("alicepw"); p.stat(); p.retr(1); p.quit()
m = IMAP4(dst, 143, timeout=10)
m.login("alice", "alicepw"); m.select("INBOX"); m.fetch("1", "(BODY[HEADER])"); m.logout()
PY
  "${c[@]}" -k --ssl-reqd "pop3://$MBX1/"           # STLS
  "${c[@]}" -k --ssl-reqd "imap://$MBX1/INBOX"      # STARTTLS
  cap_stop
}

cap_refused_and_dropped() {
  cap_start refused-and-dropped "host $MBX1 and host $DC and (tcp port 3268 or tcp port 49667)"
  # Global Catalog port, nothing listens: SYN answered by RST
  nc -z -s "$MBX1" -w 3 "$DC" 3268 2>/dev/null || true
  # dynamic RPC port behind a DROP rule: SYN retransmitted, never answered
  IPT_RULE=(INPUT -i lo -d "$DC" -p tcp --dport 49667 -j DROP)
  iptables -I "${IPT_RULE[@]}"
  nc -z -s "$MBX1" -w 4 "$DC" 49667 2>/dev/null || true
  iptables -D "${IPT_RULE[@]}"; IPT_RULE=()
  cap_stop
}

# --------------------------------------------------------------------------
main() {
  local names=("$@") n
  [[ ${#names[@]} -eq 0 ]] && names=("${ALL[@]}")
  for n in "${names[@]}"; do
    n=${n%.pcap}
    printf '%s\n' "${ALL[@]}" | grep -qx -- "$n" || die "unknown capture '$n' (try --list)"
  done
  install_packages
  check_free
  setup_workdir
  TLS10=""
  for n in "${names[@]}"; do
    n=${n%.pcap}
    "cap_${n//-/_}"
  done
  [[ $TLS10 == no ]] && log "note: http-exchange-paths.pcap has no TLS 1.0 handshake"
  if command -v capinfos >/dev/null; then
    for n in "${names[@]}"; do
      n=${n%.pcap}
      printf '%-28s %s packets\n' "$n.pcap" "$(capinfos -M -c -T "$OUT/$n.pcap" | awk -F'\t' 'NR==2{print $2}')"
    done
  fi
}

main "$@"
