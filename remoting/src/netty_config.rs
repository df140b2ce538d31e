//! `NettyServerConfig` / `NettyClientConfig` keys, as the `-c` file sets them.
//! Thread and buffer knobs are accepted for compatibility; tokio sizes itself.

rmq_common::config_object! {
    /// `NettyServerConfig` (remoting/netty/NettyServerConfig.java).
    pub struct NettyServerConfig {
        bind_address: String = "bindAddress" => "0.0.0.0",
        listen_port: i32 = "listenPort" => 0,
        server_worker_threads: i32 = "serverWorkerThreads" => 8,
        server_callback_executor_threads: i32 = "serverCallbackExecutorThreads" => 0,
        server_selector_threads: i32 = "serverSelectorThreads" => 3,
        server_oneway_semaphore_value: i32 = "serverOnewaySemaphoreValue" => 256,
        server_async_semaphore_value: i32 = "serverAsyncSemaphoreValue" => 64,
        server_channel_max_idle_time_seconds: i32 = "serverChannelMaxIdleTimeSeconds" => 120,
        server_socket_snd_buf_size: i32 = "serverSocketSndBufSize" => 0,
        server_socket_rcv_buf_size: i32 = "serverSocketRcvBufSize" => 0,
        write_buffer_high_water_mark: i32 = "writeBufferHighWaterMark" => 0,
        write_buffer_low_water_mark: i32 = "writeBufferLowWaterMark" => 0,
        server_socket_backlog: i32 = "serverSocketBacklog" => 1024,
        server_netty_worker_group_enable: bool = "serverNettyWorkerGroupEnable" => true,
        server_pooled_byte_buf_allocator_enable: bool = "serverPooledByteBufAllocatorEnable" => true,
        enable_shutdown_gracefully: bool = "enableShutdownGracefully" => false,
        shutdown_wait_time_seconds: i32 = "shutdownWaitTimeSeconds" => 30,
        use_epoll_native_selector: bool = "useEpollNativeSelector" => false,
    }
}

rmq_common::config_object! {
    /// `NettyClientConfig` (remoting/netty/NettyClientConfig.java), the keys daemons accept.
    pub struct NettyClientConfig {
        client_worker_threads: i32 = "clientWorkerThreads" => 4,
        client_callback_executor_threads: i32 = "clientCallbackExecutorThreads" => 2,
        client_oneway_semaphore_value: i32 = "clientOnewaySemaphoreValue" => 65535,
        client_async_semaphore_value: i32 = "clientAsyncSemaphoreValue" => 65535,
        connect_timeout_millis: i32 = "connectTimeoutMillis" => 3000,
        channel_not_active_interval: i64 = "channelNotActiveInterval" => 60000,
        client_channel_max_idle_time_seconds: i32 = "clientChannelMaxIdleTimeSeconds" => 120,
        client_socket_snd_buf_size: i32 = "clientSocketSndBufSize" => 0,
        client_socket_rcv_buf_size: i32 = "clientSocketRcvBufSize" => 0,
        client_pooled_byte_buf_allocator_enable: bool = "clientPooledByteBufAllocatorEnable" => false,
        client_close_socket_if_timeout: bool = "clientCloseSocketIfTimeout" => true,
        use_tls: bool = "useTLS" => false,
    }
}
