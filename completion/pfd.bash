# SPDX-License-Identifier: GPL-2.0-only
# bash completion for pfd(8): commands, their options, interfaces for
# probe --iface, protocols for explain.
_pfd()
{
	local cur prev cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c|--config) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	-c|--config)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--iface)
		COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
	--mode)
		COMPREPLY=($(compgen -W "native generic" -- "$cur")); return ;;
	esac
	local global="-c --config -v --verbose -j --json -h --help -V --version"
	case $cmd in
	"")
		COMPREPLY=($(compgen -W "run reload status flows stats explain feasibility probe detach version help $global" -- "$cur")) ;;
	flows)
		COMPREPLY=($(compgen -W "-j --json --addr --port --all -w --watch $global" -- "$cur")) ;;
	stats)
		COMPREPLY=($(compgen -W "-j --json -w --watch $global" -- "$cur")) ;;
	status|feasibility)
		COMPREPLY=($(compgen -W "-j --json $global" -- "$cur")) ;;
	explain)
		[ "$prev" = explain ] && COMPREPLY=($(compgen -W "tcp udp" -- "$cur")) ;;
	probe)
		COMPREPLY=($(compgen -W "-j --json --iface --count --timeout --mode $global" -- "$cur")) ;;
	detach)
		COMPREPLY=($(compgen -W "--all $global" -- "$cur")) ;;
	*)
		COMPREPLY=($(compgen -W "$global" -- "$cur")) ;;
	esac
}
complete -F _pfd pfd
