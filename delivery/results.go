package delivery

import (
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
)

// Build results as the engine stores them, whichever CI reported them (the integrations
// normalise Jenkins' and Team Build's words to these).
const (
	BuildSucceeded          = "SUCCEEDED"
	BuildPartiallySucceeded = "PARTIALLY_SUCCEEDED"
)

// Results a job or step report carries (JobResult.Status, StepReport.Status): the job and step
// tables' own states, as strings.
const (
	JobResultFailed = string(job.StatusFAILED)
	jobResultLost   = string(job.StatusLOST)
	stepRunning     = string(jobstep.StatusRUNNING)
	stepSucceeded   = string(jobstep.StatusSUCCEEDED)
	stepFailed      = string(jobstep.StatusFAILED)
	stepCanceled    = string(jobstep.StatusCANCELED)
	stepSkipped     = string(jobstep.StatusSKIPPED)
)
