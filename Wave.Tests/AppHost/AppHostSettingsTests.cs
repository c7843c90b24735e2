using Microsoft.Extensions.Configuration;

using Wave.AppHost.Settings;

namespace Wave.Tests.AppHost;

public sealed class AppHostSettingsTests
{
    private static AppHostSettings From(params (string Key, string Value)[] values) =>
        AppHostSettings.From(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build(), "/repo/Wave.AppHost");

    [Fact]
    public void Without_settings_the_apphost_runs_the_embedded_topology_on_9090_with_its_data_at_the_repository_root()
    {
        Assert.Equal(new AppHostSettings(WaveTopology.Embedded, BackingServices.Auto, "/repo/.wave", 9090), From());
    }

    [Fact]
    public void The_topology_the_backing_services_the_port_and_the_data_folder_are_read_from_configuration()
    {
        Assert.Equal(new AppHostSettings(WaveTopology.Distributed, BackingServices.Executables, "/data", 19090),
            From(("Wave:Topology", "Distributed"), ("Wave:BackingServices", "executables"), ("Wave:Port", "19090"), ("Wave:DataDirectory", "/data")));
    }

    [Theory]
    [InlineData("Wave:Topology", "sideways", "Wave:Topology 'sideways' is not one of: embedded, distributed")]
    [InlineData("Wave:BackingServices", "vms", "Wave:BackingServices 'vms' is not one of: auto, containers, executables")]
    [InlineData("Wave:Topology", "1", "Wave:Topology '1' is not one of: embedded, distributed")]
    [InlineData("Wave:Port", "70000", "Wave:Port '70000' is not a TCP port")]
    [InlineData("Wave:Port", "http", "Wave:Port 'http' is not a TCP port")]
    public void A_value_that_is_not_a_choice_is_refused_with_a_message_naming_the_setting(string key, string value, string message)
    {
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => From((key, value))).Message);
    }
}
