using System.Text.Json;

namespace WebLlm.Contracts.Tests;

public class ServerInfoTests
{
    [Fact]
    public void Round_trips_through_web_json()
    {
        var info = new ServerInfo("1.0.0", "cpu", 2, "2.10.0", "/data");
        var json = JsonSerializer.Serialize(info, JsonSerializerOptions.Web);
        Assert.Contains("\"torchVersion\":\"2.10.0\"", json);
        Assert.Equal(info, JsonSerializer.Deserialize<ServerInfo>(json, JsonSerializerOptions.Web));
    }
}
