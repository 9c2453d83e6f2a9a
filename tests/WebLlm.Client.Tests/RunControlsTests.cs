using WebLlm.Client.Components;
using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

public class RunControlsTests
{
    [Theory]
    [InlineData(RunStatus.Queued, false, false, true)]
    [InlineData(RunStatus.Running, true, false, true)]
    [InlineData(RunStatus.Paused, false, true, true)]
    [InlineData(RunStatus.Interrupted, false, true, true)]
    [InlineData(RunStatus.Completed, false, false, false)]
    [InlineData(RunStatus.Stopped, false, false, false)]
    [InlineData(RunStatus.Failed, false, false, false)]
    public void Status_decides_which_actions_are_enabled(RunStatus status, bool pause, bool resume, bool stop)
    {
        Assert.Equal(pause, RunControls.CanPause(status));
        Assert.Equal(resume, RunControls.CanResume(status));
        Assert.Equal(stop, RunControls.CanStop(status));
    }
}
