// Package chat is the robot's chat commands: what a message to it asks
// (ParseCommand) and the answer, acting through the ack loop (Handler).
package chat

import (
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Chat commands the robot answers.
const (
	CmdHelp     = "help"
	CmdAlerts   = "alerts"
	CmdAck      = "ack"
	CmdUnack    = "unack"
	CmdSilence  = "silence"
	CmdIncident = "incident"
	CmdOnCall   = "oncall"
)

// Command is a parsed chat command. Name is empty for text that is no
// command: the robot answers it with the help text.
type Command struct {
	Name    string
	ShortID string
	// Schedule is the schedule oncall asks about; empty: every schedule.
	Schedule string
	For      time.Duration // silence
	Problem  string        // why the arguments do not fit, for the reply
}

var commandNames = map[string]string{
	"help": CmdHelp, "帮助": CmdHelp, "?": CmdHelp, "？": CmdHelp, "h": CmdHelp,
	"alerts": CmdAlerts, "告警": CmdAlerts, "list": CmdAlerts, "ls": CmdAlerts,
	"ack": CmdAck, "确认": CmdAck,
	"unack": CmdUnack, "取消确认": CmdUnack,
	"silence": CmdSilence, "静默": CmdSilence,
	"incident": CmdIncident, "事件": CmdIncident, "inc": CmdIncident,
	"oncall": CmdOnCall, "值班": CmdOnCall, "on-call": CmdOnCall,
}

// MaxChatSilence caps `silence <id> <duration>`.
const MaxChatSilence = 7 * 24 * time.Hour

// ParseCommand reads a command from the first line of a message's text:
// the command word (English or Chinese, any case, an optional leading
// slash) and its arguments.
func ParseCommand(text string) Command {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return Command{}
	}
	name := commandNames[strings.ToLower(strings.TrimLeft(fields[0], "/"))]
	args := fields[1:]
	c := Command{Name: name}
	switch name {
	case "":
		return Command{}
	case CmdOnCall:
		if len(args) > 0 {
			c.Schedule = args[0]
		}
	case CmdAck, CmdUnack, CmdIncident:
		if len(args) < 1 {
			c.Problem = "请给出告警编号，例如 `" + name + " a1b2c3`（`alerts` 列出编号）"
			return c
		}
		c.ShortID = strings.ToLower(args[0])
	case CmdSilence:
		if len(args) < 2 {
			c.Problem = "用法：`silence <编号> <时长>`，例如 `silence a1b2c3 2h`"
			return c
		}
		c.ShortID = strings.ToLower(args[0])
		d, err := model.ParseDuration(args[1])
		switch {
		case err != nil:
			c.Problem = "时长 `" + args[1] + "` 看不懂：请写 30m、2h、1d 这样的时长"
		case time.Duration(d) < time.Minute:
			c.Problem = "静默至少 1m"
		case time.Duration(d) > MaxChatSilence:
			c.Problem = "静默最长 7d"
		default:
			c.For = time.Duration(d)
		}
	}
	return c
}

// helpText is the answer to help and to anything that is no command.
const HelpText = `**mind-relay 告警机器人**
- ` + "`alerts`" + `：列出发给你的、正在触发的告警组，带编号和确认状态
- ` + "`ack <编号>`" + `：确认告警组（编号见卡片底部或 ` + "`alerts`" + `）
- ` + "`silence <编号> <时长>`" + `：确认并静默，例如 ` + "`silence a1b2c3 2h`" + `
- ` + "`unack <编号>`" + `：取消确认，告警重新按未确认通知
- ` + "`incident <编号>`" + `：查看告警事件的经过（触发、发送、确认、静默、升级、恢复）
- ` + "`oncall [值班表]`" + `：查看现在谁在值班、下一班是谁、何时交接
- ` + "`help`" + `：显示本帮助`
