using Wave.ServiceDefaults.Redis;

namespace Wave.Tests.ServiceDefaults.Redis;

public sealed class RedisConnectionOptionsTests
{
    [Fact]
    public void Aspire_connection_string_with_every_option()
    {
        var options = RedisConnectionOptions.Parse("cache.local:6380,user=wave,password=p@ss=word,ssl=true,defaultDatabase=2,abortConnect=false,connectTimeout=1500,asyncTimeout=750");

        Assert.Equal("cache.local", options.Host);
        Assert.Equal(6380, options.Port);
        Assert.Equal("wave", options.User);
        Assert.Equal("p@ss=word", options.Password);
        Assert.True(options.Ssl);
        Assert.Equal(2, options.Database);
        Assert.False(options.AbortConnect);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(750), options.CommandTimeout);
    }

    [Fact]
    public void Defaults_and_unknown_options()
    {
        var options = RedisConnectionOptions.Parse("localhost,allowAdmin=true");

        Assert.Equal("localhost", options.Host);
        Assert.Equal(6379, options.Port);
        Assert.Null(options.Password);
        Assert.Equal(0, options.Database);
        Assert.Equal(TimeSpan.FromSeconds(5), options.CommandTimeout);
    }

    [Theory]
    [InlineData("[::1]:7000", "::1", 7000)]
    [InlineData("[::1]", "::1", 6379)]
    [InlineData("127.0.0.1:1234,127.0.0.1:1235", "127.0.0.1", 1234)]
    public void Endpoints(string connectionString, string host, int port)
    {
        var options = RedisConnectionOptions.Parse(connectionString);

        Assert.Equal(host, options.Host);
        Assert.Equal(port, options.Port);
    }

    [Theory]
    [InlineData("password=only")]
    [InlineData("host:notaport")]
    [InlineData("host:1,defaultDatabase=-1")]
    [InlineData("host:1,ssl=maybe")]
    public void Malformed_strings_are_refused(string connectionString) =>
        Assert.Throws<FormatException>(() => RedisConnectionOptions.Parse(connectionString));

    [Fact]
    public void ToString_masks_the_password()
    {
        var options = RedisConnectionOptions.Parse("h:1,password=topsecret");

        Assert.DoesNotContain("topsecret", options.ToString());
        Assert.Contains("h:1", options.ToString());
    }
}
