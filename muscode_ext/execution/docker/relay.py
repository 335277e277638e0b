"""PID 1 of a container under gVisor, in place of ``sh``: the output relay.

gVisor hands the engine's pipes to the sandbox as host fds, and a write to one returns
short once the host pipe is full, where Linux blocks until everything is written:
programs that trust one write() to take it all lose output (Python run with -u writes
each print with one write() and drops the rest: a 200 KB line arrived as 64 KB). So
run.sh writes into pipes of gVisor's own, which block as Linux pipes do, and the relay
copies them out with full writes. As PID 1 it cannot be killed by the program (kill(-1)
spares init). It forks run.sh's process while the container idles (a fork under gVisor
copies memory in 2 MB units: tens of ms), reads the go and nonce lines byte by byte (the
rest of stdin is the program's), copies the job's files into the work dir itself (a
``cp`` costs a fork and an exec, about 12 ms there), and ends both streams with the same
end marker as run.sh does under runc (:mod:`.scripts`). Perl because every Debian image
has it (perl-base is essential) and it starts in milliseconds; builtins only.
"""

from __future__ import annotations

from ..box import BOX
from .scripts import CONTROL

#: Where the relay is written in a container's private host directory.
RELAY_NAME = "relay.pl"

#: PID 1's command under gVisor: the relay, given run.sh, the files and the work dir.
RELAY_COMMAND = [
    "perl",
    f"{CONTROL}/{RELAY_NAME}",
    f"{CONTROL}/run.sh",
    f"{CONTROL}/files",
    BOX,
]

RELAY = r"""
use strict;
my ($script, $files, $box) = @ARGV;
pipe(my $out_r, my $out_w) or exit 125;
pipe(my $err_r, my $err_w) or exit 125;
pipe(my $go_r, my $go_w) or exit 125;
open(my $real_err, ">&", \*STDERR) or exit 125;
$SIG{CHLD} = sub {};  # wakes select() when run.sh ends
my $pid = fork();
exit 125 unless defined $pid;
if ($pid == 0) {
    # Becomes a small sh at once (a copy of perl would hold its memory) that waits for
    # the go on the go pipe, in a process group of its own: killpg(0) from the program
    # must not reach PID 1.
    $SIG{CHLD} = "DEFAULT";
    setpgrp(0, 0);
    open(STDOUT, ">&", $out_w) or exit 125;
    open(STDERR, ">&", $err_w) or exit 125;
    fcntl($go_r, 2, 0) or exit 125;  # F_SETFD: no close-on-exec for the go pipe
    my $fd = fileno($go_r);
    exec("/bin/sh", "-c", "read -r go <&$fd && exec $fd<&- && . \"\$0\"", $script);
    exit 127;
}
close($out_w);
close($err_w);
close($go_r);
$SIG{PIPE} = "IGNORE";
sub line {
    my $text = "";
    while (sysread(STDIN, my $c, 1)) {
        return $text if $c eq "\n";
        $text .= $c;
    }
    return undef;
}
# The job's files into the work dir, as cp -R --preserve=mode,timestamps would (only
# regular files and directories are there): in this process, since a cp would cost
# a fork and an exec, each some milliseconds under gVisor.
sub copy_tree {
    my ($from, $to) = @_;
    opendir(my $dir, $from) or return 0;
    my @names = grep { $_ ne "." && $_ ne ".." } readdir($dir);
    closedir($dir);
    for my $name (@names) {
        my ($src, $dst) = ("$from/$name", "$to/$name");
        my @st = lstat($src) or return 0;
        if (-d _) {
            mkdir($dst, 0700) or return 0;
            copy_tree($src, $dst) or return 0;
        } elsif (-f _) {
            sysopen(my $in, $src, 0) or return 0;  # O_RDONLY
            sysopen(my $out, $dst, 1 | 64 | 128, 0600) or return 0;  # O_WRONLY|O_CREAT|O_EXCL
            while (1) {
                my $n = sysread($in, my $buf, 1 << 16);
                return 0 unless defined $n;
                last unless $n;
                while (length $buf) {
                    my $w = syswrite($out, $buf);
                    return 0 unless $w;
                    substr($buf, 0, $w, "");
                }
            }
            close($out) or return 0;
        } else {
            next;
        }
        chmod($st[2] & 07777, $dst) or return 0;
        utime($st[8], $st[9], $dst) or return 0;
    }
    return 1;
}
my $go = line();
my $nonce = line();
exit 125 unless defined $go && $go eq "go" && defined $nonce && length $nonce;
copy_tree($files, $box) or exit 125;
syswrite($go_w, "go\n");
close($go_w);
sub put {
    my ($fh, $data) = @_;
    while (length $data) {
        my $n = syswrite($fh, $data);
        if (!defined $n) {
            return unless $!{EINTR} || $!{EAGAIN};
            my $w = "";
            vec($w, fileno($fh), 1) = 1;
            select(undef, $w, undef, 0.1);
            next;
        }
        substr($data, 0, $n, "");
    }
}
my %from = (fileno($out_r) => [$out_r, \*STDOUT], fileno($err_r) => [$err_r, $real_err]);
my ($status, $after) = (undef, 0);
# Until both pipes end or, when children the program left behind hold them, until
# run.sh has ended and what it wrote before is copied (at most a pipe's worth each).
while (%from && $after < (4 << 20)) {
    my $rin = "";
    vec($rin, $_, 1) = 1 for keys %from;
    my $n = select(my $rout = $rin, undef, undef, defined $status ? 0 : 0.05);
    if ($n > 0) {
        for my $fd (keys %from) {
            next unless vec($rout, $fd, 1);
            my $got = sysread($from{$fd}[0], my $buf, 65536);
            if (!$got) {
                delete $from{$fd} unless !defined $got && $!{EINTR};
                next;
            }
            $after += $got if defined $status;
            put($from{$fd}[1], $buf);
        }
    } elsif (defined $status) {
        last if $n == 0;
    } elsif (waitpid($pid, 1) == $pid) {
        $status = $?;
    }
}
if (!defined $status) {
    waitpid($pid, 0);
    $status = $?;
}
my $code = ($status & 127) ? 128 + ($status & 127) : $status >> 8;
sub first {
    my ($pattern, @files) = @_;
    for my $f (@files) {
        open(my $h, "<", $f) or next;
        local $/;
        my $text = <$h>;
        return $1 if defined $text && $text =~ $pattern;
    }
    return 0;
}
my $oom = first(qr/^oom_kill (\d+)/m, "/sys/fs/cgroup/memory/memory.oom_control",
    "/sys/fs/cgroup/memory.events");
my $forks = first(qr/^max (\d+)/m, "/sys/fs/cgroup/pids/pids.events",
    "/sys/fs/cgroup/pids.events");
my $cpu = first(qr/^(\d+)/, "/sys/fs/cgroup/cpuacct/cpuacct.usage")
    || 1000 * first(qr/^usage_usec (\d+)/m, "/sys/fs/cgroup/cpu.stat");
my $mem = first(qr/^(\d+)/, "/sys/fs/cgroup/memory/memory.max_usage_in_bytes",
    "/sys/fs/cgroup/memory.peak");
my $end = "\0muscode-end $nonce $code $oom $forks $cpu $mem\n";
put(\*STDOUT, $end);
put($real_err, $end);
exit $code;
"""
