using WebLlm.Server.Runs;

namespace WebLlm.Server.Tests;

public class ShownPathsTests
{
    [Theory]
    [InlineData("Could not find file '/srv/webllm/runs/3/checkpoints/step_00000010/model.safetensors'.", "Could not find file '<data>/runs/3/checkpoints/step_00000010/model.safetensors'.")]
    [InlineData("Unable to load shared library '/opt/torch/lib/libtorch.so' or one of its dependencies", "Unable to load shared library '<path>' or one of its dependencies")]
    [InlineData("Access to the path /home/alice/.cache/webllm/x is denied.", "Access to the path <path> is denied.")]
    [InlineData("file=/usr/lib/x.so (errno 2)", "file=<path> (errno 2)")]
    [InlineData(@"Could not find a part of the path 'C:\Users\alice\webllm'.", "Could not find a part of the path '<path>'.")]
    [InlineData("shape [12, 64] vs [12/2, 64]; see http://example.com/a/b", "shape [12, 64] vs [12/2, 64]; see http://example.com/a/b")]
    [InlineData("loss went to NaN at step 13", "loss went to NaN at step 13")]
    public void Server_paths_leave_a_reason_but_data_paths_keep_their_place_in_the_data_directory(string message, string shown) =>
        Assert.Equal(shown, ShownPaths.Redact(message, "/srv/webllm/"));
}
