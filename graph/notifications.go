package graph

import (
	"entgo.io/contrib/entgql"

	"github.com/cairnhq/cairn/ent"
)

// newestNotificationsFirst is the default order of the notifications list:
// the latest problems are the interesting ones.
var newestNotificationsFirst = &ent.NotificationOrder{
	Direction: entgql.OrderDirectionDesc,
	Field:     ent.NotificationOrderFieldCreatedAt,
}
